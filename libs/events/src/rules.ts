// The counting rules: which registry notification events are pulls, as pure functions over plain data.
import { ARCHITECTURE_NOT_SPECIFIED, architectureFromUserAgent, platformName } from './architecture.js';
import { isValidDigest, isValidRepository, isValidTag } from './reference.js';
import { parseRfc3339 } from './timestamp.js';
import { isObject } from './json.js';

/** The four manifest media types whose pulls are counted. */
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
]);

/** A manifest pull that passed the rules: what the queue carries and the worker counts. */
export interface PullEvent {
  /** The registry's event id: the idempotency key, stable across re-deliveries. */
  id: string;
  /** The event's own time (the client request), RFC 3339 as sent. */
  timestamp: string;
  /** UTC date of `timestamp`, YYYY-MM-DD. */
  pullDate: string;
  /**
   * `timestamp` in milliseconds since the epoch, parsed once by the rules with `pullDate` (a leap second is
   * 23:59:59.999 of its own day). Absent in jobs queued by receivers older than this field: use `eventTimeMs`.
   */
  time?: number;
  repository: string;
  /** '' when the manifest was addressed by digest. */
  tag: string;
  digest: string;
  mediaType: string;
  architecture: string;
  /** The client request's method (GET or HEAD) and User-Agent, kept for later rules. */
  method: string;
  userAgent: string;
  /** The client's address as the registry saw it (ip:port, or ip from X-Forwarded-For). */
  clientAddress: string;
  /** An index's children with their platforms, when the registry sends them (v3 `includereferences`). */
  references?: ManifestReference[];
}

export interface ManifestReference {
  digest: string;
  /** arch[/variant], e.g. arm/v7; absent when the registry sent no platform (v2.8). */
  platform?: string;
}

/** Why an event was not counted. The first group is ordinary traffic; the second is malformed input. */
export const FILTERED_REASONS = ['not-pull', 'not-manifest', 'ignored-user-agent'] as const;
export const INVALID_REASONS = [
  'not-an-object',
  'missing-id',
  'invalid-repository',
  'invalid-tag',
  'invalid-digest',
  'invalid-timestamp',
] as const;
export type SkipReason = (typeof FILTERED_REASONS)[number] | (typeof INVALID_REASONS)[number];

export interface RuleOptions {
  /** Case-sensitive substrings; an event whose User-Agent contains one is not counted. */
  ignoredUserAgents: readonly string[];
}

export type EventVerdict =
  | { accepted: true; event: PullEvent }
  | { accepted: false; reason: SkipReason; eventId: string | undefined };

const MAX_ID_LENGTH = 256;


function stringField(object: unknown, key: string): string | undefined {
  if (!isObject(object)) return undefined;
  const value = object[key];
  return typeof value === 'string' ? value : undefined;
}

/** Applies the counting rules to one event of an envelope. */
export function evaluateEvent(raw: unknown, options: RuleOptions): EventVerdict {
  if (!isObject(raw)) return { accepted: false, reason: 'not-an-object', eventId: undefined };
  const rawId = stringField(raw, 'id');
  const eventId = rawId !== undefined && rawId.length > 0 && rawId.length <= MAX_ID_LENGTH ? rawId : undefined;
  const skip = (reason: SkipReason): EventVerdict => ({ accepted: false, reason, eventId });

  if (raw.action !== 'pull') return skip('not-pull');
  const target = raw.target;
  const mediaType = stringField(target, 'mediaType');
  if (mediaType === undefined || !MANIFEST_MEDIA_TYPES.has(mediaType)) return skip('not-manifest');
  if (eventId === undefined) return skip('missing-id');

  const repository = stringField(target, 'repository');
  if (repository === undefined || !isValidRepository(repository)) return skip('invalid-repository');
  // A pull by digest has no tag; which policy counts it is the worker's business.
  const tag = stringField(target, 'tag') ?? '';
  if (tag !== '' && !isValidTag(tag)) return skip('invalid-tag');
  const digest = stringField(target, 'digest');
  if (digest === undefined || !isValidDigest(digest)) return skip('invalid-digest');

  const timestamp = stringField(raw, 'timestamp');
  const parsed = timestamp === undefined ? undefined : parseRfc3339(timestamp);
  if (timestamp === undefined || parsed === undefined) return skip('invalid-timestamp');

  const request = raw.request;
  const userAgent = stringField(request, 'useragent') ?? '';
  if (options.ignoredUserAgents.some((ignored) => userAgent.includes(ignored))) return skip('ignored-user-agent');

  const references = referencesOf(target);
  return {
    accepted: true,
    event: {
      id: eventId,
      timestamp,
      pullDate: parsed.utcDay,
      time: parsed.epochMs,
      repository,
      tag,
      digest,
      mediaType,
      architecture: userAgent === '' ? ARCHITECTURE_NOT_SPECIFIED : architectureFromUserAgent(userAgent),
      method: stringField(request, 'method') ?? '',
      userAgent,
      clientAddress: stringField(request, 'addr') ?? '',
      ...(references ? { references } : {}),
    },
  };
}

/**
 * The event's time, ms since the epoch: the one the rules parsed, or, for a job queued by a receiver that did not
 * carry `time` yet, its timestamp parsed again by the same rules (never Date.parse, which refuses a leap second).
 */
export function eventTimeMs(event: Pick<PullEvent, 'id' | 'timestamp' | 'time'>): number {
  if (typeof event.time === 'number' && Number.isFinite(event.time)) return event.time;
  const parsed = parseRfc3339(event.timestamp);
  if (parsed === undefined) throw new Error(`event ${event.id}: timestamp ${JSON.stringify(event.timestamp)} is not RFC 3339`);
  return parsed.epochMs;
}

const MAX_REFERENCES = 256;

/** The children of an index event that carry a valid digest; undefined when there are none. */
function referencesOf(target: unknown): ManifestReference[] | undefined {
  if (!isObject(target) || !Array.isArray(target.references)) return undefined;
  const references: ManifestReference[] = [];
  for (const reference of target.references.slice(0, MAX_REFERENCES)) {
    const digest = stringField(reference, 'digest');
    if (digest === undefined || !isValidDigest(digest)) continue;
    const platform = isObject(reference) ? reference.platform : undefined;
    const architecture = stringField(platform, 'architecture');
    const name = architecture === undefined ? undefined : platformName(architecture, stringField(platform, 'variant'));
    references.push(name ? { digest, platform: name } : { digest });
  }
  return references.length > 0 ? references : undefined;
}
