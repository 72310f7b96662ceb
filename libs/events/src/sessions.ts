// The session count policy: a client's manifest requests on one repository, grouped in time, become pulls or checks.
import { createHash } from 'node:crypto';
import type { KindedCountChange } from './aggregate.js';
import { ARCHITECTURE_NOT_SPECIFIED } from './architecture.js';
import { eventTimeMs, type PullEvent } from './rules.js';
import { utcDayOf } from './utc-day.js';

export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/** One manifest request as the session rules see it (stored, so sessions can be recomputed). */
export interface SessionEvent {
  id: string;
  /** Event time, epoch milliseconds. */
  time: number;
  /** Client address without port, User-Agent and repository: who asked, for what. */
  clientKey: string;
  repository: string;
  method: string;
  mediaType: string;
  digest: string;
  /** '' when the manifest was addressed by digest. */
  tag: string;
  /** The User-Agent's architecture, the last fallback. */
  userAgentArchitecture: string;
}

/** What the registry told us about a manifest, looked up once per digest. */
export interface ManifestInfo {
  kind: 'index' | 'image';
  /** An image's platform (e.g. arm/v7), when known. */
  platform?: string;
  /** An index's children, digest -> platform (or '' when the index gives none). */
  children?: ReadonlyMap<string, string>;
}

export type ManifestLookup = (digest: string) => ManifestInfo | undefined;

/** The address without its port: a client opens a new connection (and port) for every request. */
export function clientHost(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const parts = address.split(':');
  // One colon: ipv4:port or host:port. More: a bare IPv6 address, which has no port.
  return parts.length === 2 ? parts[0]! : address;
}

/** Who asked, for which repository: the host, the User-Agent and the repository, hashed to a short key. */
export function clientKeyOf(event: Pick<PullEvent, 'clientAddress' | 'userAgent' | 'repository'>): string {
  return createHash('sha256')
    .update(`${clientHost(event.clientAddress)}\u0000${event.userAgent}\u0000${event.repository}`)
    .digest('base64url')
    .slice(0, 32);
}

export function toSessionEvent(event: PullEvent): SessionEvent {
  return {
    id: event.id,
    time: eventTimeMs(event),
    clientKey: clientKeyOf(event),
    repository: event.repository,
    method: event.method,
    mediaType: event.mediaType,
    digest: event.digest,
    tag: event.tag,
    userAgentArchitecture: event.architecture,
  };
}

function byTime(a: SessionEvent, b: SessionEvent): number {
  return a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Sessions never span two UTC hours (see splitSessions). */
export const SESSION_BUCKET_MS = 3_600_000;

/**
 * Splits one client's events into sessions: a new session starts after more than `windowMs` of silence, and at
 * every UTC hour. The hour bound keeps a client that polls more often than the window (a probe, a script) from
 * forming one endless session: it gets one check an hour, "last seen" stays current, and a recomputation never
 * reloads more than an hour of one client's events. Both rules look only at consecutive events, so the sessions
 * are the same whatever order the events arrive in.
 */
export function splitSessions(events: readonly SessionEvent[], windowMs: number): SessionEvent[][] {
  const sorted = [...events].sort(byTime);
  const sessions: SessionEvent[][] = [];
  let current: SessionEvent[] = [];
  for (const event of sorted) {
    const last = current.at(-1);
    const newHour = last !== undefined && Math.floor(event.time / SESSION_BUCKET_MS) !== Math.floor(last.time / SESSION_BUCKET_MS);
    if (last && (event.time - last.time > windowMs || newHour)) {
      sessions.push(current);
      current = [];
    }
    current.push(event);
  }
  if (current.length > 0) sessions.push(current);
  return sessions;
}

const isIndex = (event: SessionEvent): boolean => INDEX_MEDIA_TYPES.has(event.mediaType);
const isDownload = (event: SessionEvent): boolean => event.method !== 'HEAD';

/**
 * Counts one session:
 * - every distinct image manifest it GETs is one pull, with the tag the session resolved to it, the digest that
 *   tag pointed to (the index for a multi-arch image) or else the top digest fetched, and the image's platform;
 * - a session that GETs only indexes counts one pull per index, architecture not-specified;
 * - a tag or digest it only HEADs (nothing downloaded for it) is a check, not a pull.
 */
export function countSession(session: readonly SessionEvent[], lookup: ManifestLookup): KindedCountChange[] {
  const events = [...session].sort(byTime);
  const counts: KindedCountChange[] = [];
  const resolutions = events.filter((event) => event.tag !== '');
  const indexEvents = events.filter(isIndex);
  const consumed = new Set<SessionEvent>();

  const childrenOf = (digest: string): ReadonlyMap<string, string> | undefined => lookup(digest)?.children;
  const leadsTo = (event: SessionEvent, image: string): boolean => event.digest === image || childrenOf(event.digest)?.has(image) === true;
  const lastBefore = (candidates: SessionEvent[], time: number): SessionEvent | undefined =>
    candidates.filter((event) => event.time <= time).at(-1) ?? candidates[0];

  const platformOf = (image: string, fallback: SessionEvent): string => {
    const own = lookup(image)?.platform;
    if (own) return own;
    for (const index of indexEvents) {
      const listed = childrenOf(index.digest)?.get(image);
      if (listed) return listed;
    }
    return fallback.userAgentArchitecture || ARCHITECTURE_NOT_SPECIFIED;
  };

  const firstGets = new Map<string, SessionEvent>();
  for (const event of events) if (isDownload(event) && !firstGets.has(event.digest)) firstGets.set(event.digest, event);
  const imageGets = [...firstGets.values()].filter((event) => !isIndex(event));
  const indexGets = [...firstGets.values()].filter(isIndex);

  for (const get of imageGets) {
    // The tag resolution that leads to this image: directly, through a known index, or through an index we know nothing of.
    const resolution =
      lastBefore(resolutions.filter((event) => leadsTo(event, get.digest)), get.time) ??
      lastBefore(resolutions.filter((event) => isIndex(event) && childrenOf(event.digest) === undefined), get.time);
    const parentIndex =
      indexGets.find((event) => childrenOf(event.digest)?.has(get.digest)) ??
      indexGets.find((event) => childrenOf(event.digest) === undefined);
    for (const event of events) if (event.digest === get.digest || event === resolution || event.digest === resolution?.digest) consumed.add(event);
    if (parentIndex) for (const event of events) if (event.digest === parentIndex.digest) consumed.add(event);
    counts.push({
      kind: 'pull',
      pullDate: utcDayOf(get.time),
      repository: get.repository,
      tag: resolution?.tag ?? '',
      digest: resolution?.digest ?? parentIndex?.digest ?? get.digest,
      architecture: platformOf(get.digest, get),
      count: 1,
    });
  }

  if (imageGets.length === 0) {
    for (const get of indexGets) {
      const resolution = lastBefore(resolutions.filter((event) => event.digest === get.digest), get.time);
      for (const event of events) if (event.digest === get.digest) consumed.add(event);
      counts.push({
        kind: 'pull',
        pullDate: utcDayOf(get.time),
        repository: get.repository,
        tag: resolution?.tag ?? '',
        digest: get.digest,
        architecture: ARCHITECTURE_NOT_SPECIFIED,
        count: 1,
      });
    }
  }

  // What was only checked: one check per (tag, digest) the session HEADed and did not download.
  const checked = new Set<string>();
  for (const event of events) {
    if (consumed.has(event)) continue;
    const key = `${event.tag}\u0000${event.digest}`;
    if (checked.has(key)) continue;
    checked.add(key);
    counts.push({
      kind: 'check',
      pullDate: utcDayOf(event.time),
      repository: event.repository,
      tag: event.tag,
      digest: event.digest,
      architecture: isIndex(event) ? ARCHITECTURE_NOT_SPECIFIED : platformOf(event.digest, event),
      count: 1,
    });
  }
  return counts;
}

/** Sums counts with the same kind and key (several sessions may add to one row). */
export function sumCounts(counts: readonly KindedCountChange[]): KindedCountChange[] {
  const byKey = new Map<string, KindedCountChange>();
  for (const count of counts) {
    const key = [count.kind, count.pullDate, count.repository, count.tag, count.digest, count.architecture].join('\u0000');
    const row = byKey.get(key);
    if (row) row.count += count.count;
    else byKey.set(key, { ...count });
  }
  return [...byKey.values()];
}

/** What to add to each row to go from the `before` counts to the `after` counts; rows that do not change are left out. */
export function countDelta(before: readonly KindedCountChange[], after: readonly KindedCountChange[]): KindedCountChange[] {
  const negated = before.map((count) => ({ ...count, count: -count.count }));
  return sumCounts([...after, ...negated]).filter((count) => count.count !== 0);
}
