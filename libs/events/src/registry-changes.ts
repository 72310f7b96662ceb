// Which notification events change what the registry holds (manifest pushes, deletes): pure, like the pull rules.
import { MANIFEST_MEDIA_TYPES } from './rules.js';
import { isValidDigest, isValidRepository, isValidTag } from './reference.js';
import { parseRfc3339 } from './timestamp.js';
import { isObject } from './json.js';

/** A repository whose tags or manifests changed: browse refreshes it instead of waiting for its next crawl. */
export interface RegistryChange {
  action: 'push' | 'delete';
  repository: string;
  tag?: string;
  digest?: string;
  /** The event's time in ms since the epoch (0 when it had none). */
  time: number;
}


/**
 * The change one event announces, if any: a push of a manifest (of any of the four types, by tag or by digest) or a
 * delete (registry 2.8 sends a manifest delete with no media type, so every delete counts). Blob pushes, mounts and
 * pulls are not changes; an event that names no valid repository is none either.
 */
export function registryChangeOf(event: unknown): RegistryChange | undefined {
  if (!isObject(event) || !isObject(event.target)) return undefined;
  const action = event.action;
  const target = event.target;
  if (action !== 'push' && action !== 'delete') return undefined;
  if (action === 'push' && !(typeof target.mediaType === 'string' && MANIFEST_MEDIA_TYPES.has(target.mediaType))) return undefined;
  const repository = target.repository;
  if (typeof repository !== 'string' || !isValidRepository(repository)) return undefined;
  const tag = typeof target.tag === 'string' && isValidTag(target.tag) ? target.tag : undefined;
  const digest = typeof target.digest === 'string' && isValidDigest(target.digest) ? target.digest : undefined;
  const parsed = typeof event.timestamp === 'string' ? parseRfc3339(event.timestamp) : undefined;
  return { action, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), time: parsed?.epochMs ?? 0 };
}
