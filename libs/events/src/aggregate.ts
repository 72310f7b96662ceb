// Folds accepted pull events into per-day counts, one row per key, in a stable order.
import type { PullEvent } from './rules.js';

/** One row of container_pull_metrics' unique key with the pulls to add to it. */
export interface PullCount {
  pullDate: string;
  repository: string;
  tag: string;
  digest: string;
  architecture: string;
  count: number;
}

/** The first event of each id, in input order: one batch may carry a re-delivered event twice. */
export function uniqueById<T extends { id: string }>(events: readonly T[]): T[] {
  const seen = new Set<string>();
  return events.filter((event) => (seen.has(event.id) ? false : (seen.add(event.id), true)));
}

function compareCounts(a: PullCount, b: PullCount): number {
  return (
    cmp(a.pullDate, b.pullDate) ||
    cmp(a.repository, b.repository) ||
    cmp(a.tag, b.tag) ||
    cmp(a.digest, b.digest) ||
    cmp(a.architecture, b.architecture)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sums events per key. The rows come sorted by key so that concurrent upserts from several workers
 * lock rows in the same order and cannot deadlock.
 */
export function aggregatePulls(events: readonly PullEvent[]): PullCount[] {
  const byKey = new Map<string, PullCount>();
  for (const event of events) {
    const key = [event.pullDate, event.repository, event.tag, event.digest, event.architecture].join('\u0000');
    const row = byKey.get(key);
    if (row) row.count += 1;
    else
      byKey.set(key, {
        pullDate: event.pullDate,
        repository: event.repository,
        tag: event.tag,
        digest: event.digest,
        architecture: event.architecture,
        count: 1,
      });
  }
  return [...byKey.values()].sort(compareCounts);
}
