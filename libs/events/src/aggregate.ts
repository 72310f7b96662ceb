// Folds accepted pull events into per-day counts, one row per key, in a stable order.
import type { PullEvent } from './rules.js';

/** What to add to one row of a count table: the row's unique key and a count (negative takes counts back). */
export interface CountChange {
  pullDate: string;
  repository: string;
  tag: string;
  digest: string;
  architecture: string;
  count: number;
}

/** The count table a change goes to: container_pull_metrics (pull) or container_pull_checks (check). */
export type CountKind = 'pull' | 'check';

/** A change together with the table it goes to, where pulls and checks travel in one list. */
export interface KindedCountChange extends CountChange {
  kind: CountKind;
}

/** The first event of each id, in input order: one batch may carry a re-delivered event twice. */
export function uniqueById<T extends { id: string }>(events: readonly T[]): T[] {
  const seen = new Set<string>();
  return events.filter((event) => (seen.has(event.id) ? false : (seen.add(event.id), true)));
}

function compareCounts(a: CountChange, b: CountChange): number {
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
export function aggregatePulls(events: readonly PullEvent[]): CountChange[] {
  const byKey = new Map<string, CountChange>();
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
