// Finds what a manifest digest is (index with children, or image with a platform): from the event, a cache, or the registry.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { INDEX_MEDIA_TYPES, isObject, platformName, type JsonObject, type ManifestInfo, type PullEvent } from '@staticreg/events';
import { loadManifestDescriptions, saveManifestDescriptions, type Database } from '@staticreg/db';
import type { RegistryClient } from '@staticreg/registry';

export interface ManifestResolverLimits {
  /** Descriptions kept in memory. */
  descriptions: number;
  /** Children of remembered indexes kept with their platform. */
  childPlatforms: number;
  /** Digests the registry could not describe, kept until their next attempt is due. */
  unknown: number;
  /** Digests waiting for a registry read; more are dropped (a later batch naming them asks again). */
  queued: number;
  /** Registry reads at once. */
  concurrency: number;
}

export interface ManifestResolverOptions {
  now?: () => number;
  limits?: Partial<ManifestResolverLimits>;
}

const DEFAULT_LIMITS: ManifestResolverLimits = { descriptions: 20_000, childPlatforms: 50_000, unknown: 20_000, queued: 1_000, concurrency: 4 };
const FIRST_RETRY_MS = 60_000;
const LAST_RETRY_MS = 3_600_000;

/** A Map that forgets its least recently used entry beyond `limit`. */
class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}

function platformOf(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const { architecture, variant } = value;
  return typeof architecture === 'string' ? platformName(architecture, typeof variant === 'string' ? variant : undefined) : undefined;
}

/** An index's children from its manifest JSON: digest -> platform ('' when the index names none). */
export function childrenOfIndex(json: JsonObject): Map<string, string> {
  const children = new Map<string, string>();
  const manifests = Array.isArray(json.manifests) ? json.manifests : [];
  for (const entry of manifests) {
    if (!isObject(entry)) continue;
    const { digest, platform } = entry;
    if (typeof digest === 'string') children.set(digest, platformOf(platform) ?? '');
  }
  return children;
}

/** An index with the images it names a platform for, each described by that platform: what other workers read. */
function withChildren(digest: string, info: ManifestInfo): Map<string, ManifestInfo> {
  const described = new Map<string, ManifestInfo>();
  for (const [child, platform] of info.children ?? []) if (platform) described.set(child, { kind: 'image', platform });
  described.set(digest, info);
  return described;
}

interface Lookup {
  db: Kysely<Database>;
  repository: string;
  digest: string;
  index: boolean;
}

interface Backoff {
  failures: number;
  until: number;
}

/**
 * Digests never change, so every answer is kept: in memory, and in manifest_descriptions for the other workers.
 * A batch never waits for the registry: describe() answers from what is known now, and a digest nobody knows yet
 * is read from the registry in the background, for later batches. A digest the registry cannot describe
 * (unreachable, deleted, a 404's random digest) is asked again after a minute, then after twice as long each time,
 * up to an hour. Every cache and the queue are bounded.
 */
export class ManifestResolver {
  private readonly limits: ManifestResolverLimits;
  private readonly now: () => number;
  private readonly memory: BoundedMap<string, ManifestInfo>;
  private readonly childPlatforms: BoundedMap<string, string>;
  private readonly unknown: BoundedMap<string, Backoff>;
  private readonly queued = new Map<string, Lookup>();
  private readonly running = new Set<string>();
  private indexesRunning = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  private warned = false;

  constructor(
    private readonly registry: RegistryClient | undefined,
    private readonly log: Logger,
    options: ManifestResolverOptions = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
    this.memory = new BoundedMap(this.limits.descriptions);
    this.childPlatforms = new BoundedMap(this.limits.childPlatforms);
    this.unknown = new BoundedMap(this.limits.unknown);
  }

  /** How full each cache and the queue are (each stays within its limit). */
  sizes(): { descriptions: number; childPlatforms: number; unknown: number; queued: number; running: number } {
    return {
      descriptions: this.memory.size,
      childPlatforms: this.childPlatforms.size,
      unknown: this.unknown.size,
      queued: this.queued.size,
      running: this.running.size,
    };
  }

  /** Resolves when no registry read is queued or running. */
  whenIdle(): Promise<void> {
    if (this.queued.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts no further registry read (those running finish on their own, within the client's timeouts). */
  close(): void {
    this.closed = true;
    this.queued.clear();
    this.settle();
  }

  private remember(digest: string, info: ManifestInfo): void {
    this.memory.set(digest, info);
    for (const [child, platform] of info.children ?? []) if (platform) this.childPlatforms.set(child, platform);
  }

  private known(digest: string): ManifestInfo | undefined {
    const info = this.memory.get(digest);
    if (info) return info;
    const platform = this.childPlatforms.get(digest);
    return platform ? { kind: 'image', platform } : undefined;
  }

  /**
   * Descriptions of the manifests these events name, as far as they are known now: from memory and
   * manifest_descriptions. The registry is never awaited here; digests still unknown are queued for a background
   * read. Only what the registry itself said is kept: an index's references carried by an event are anyone's claim
   * (a notification can be forged), so they describe the index for this batch only, when nothing better is known.
   */
  async describe(db: Kysely<Database>, events: readonly PullEvent[]): Promise<Map<string, ManifestInfo>> {
    const found = new Map<string, ManifestInfo>();
    const claimed = new Map<string, ManifestInfo>();
    const wanted = new Map<string, PullEvent>();
    for (const event of events) {
      if (event.references && INDEX_MEDIA_TYPES.has(event.mediaType) && !claimed.has(event.digest)) {
        claimed.set(event.digest, { kind: 'index', children: new Map(event.references.map((reference) => [reference.digest, reference.platform ?? ''])) });
      }
      if (found.has(event.digest) || wanted.has(event.digest)) continue;
      const info = this.known(event.digest);
      if (info) found.set(event.digest, info);
      else wanted.set(event.digest, event);
    }
    if (wanted.size > 0) {
      for (const [digest, info] of await loadManifestDescriptions(db, [...wanted.keys()])) {
        found.set(digest, info);
        this.remember(digest, info);
        wanted.delete(digest);
      }
      for (const event of wanted.values()) this.enqueue(db, event);
    }
    // Neither saved nor remembered: the registry's answer replaces the claim as soon as it has been read.
    for (const [digest, info] of claimed) if (!found.has(digest)) found.set(digest, info);
    return found;
  }

  private enqueue(db: Kysely<Database>, event: PullEvent): void {
    const digest = event.digest;
    if (!this.registry || this.closed || this.queued.has(digest) || this.running.has(digest)) return;
    if ((this.unknown.get(digest)?.until ?? 0) > this.now()) return;
    if (this.queued.size >= this.limits.queued) return;
    this.queued.set(digest, { db, repository: event.repository, digest, index: INDEX_MEDIA_TYPES.has(event.mediaType) });
    this.pump();
  }

  /**
   * Starts queued reads up to the concurrency, indexes first, and images only once no index is being read: an
   * index names its children's platforms, which spares one read per child.
   */
  private pump(): void {
    while (this.running.size < this.limits.concurrency && this.queued.size > 0) {
      const queued = [...this.queued.values()];
      const next = queued.find((lookup) => lookup.index) ?? (this.indexesRunning === 0 ? queued[0] : undefined);
      if (!next) return;
      this.queued.delete(next.digest);
      this.running.add(next.digest);
      if (next.index) this.indexesRunning += 1;
      void this.lookUp(next).finally(() => {
        this.running.delete(next.digest);
        if (next.index) this.indexesRunning -= 1;
        this.pump();
        this.settle();
      });
    }
  }

  private settle(): void {
    if (this.queued.size > 0 || this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async lookUp(lookup: Lookup): Promise<void> {
    const { db, digest } = lookup;
    try {
      // Learned meanwhile: from an index read just before, or by another worker.
      const known = this.known(digest) ?? (await loadManifestDescriptions(db, [digest])).get(digest);
      if (known) {
        this.remember(digest, known);
        return;
      }
    } catch (error) {
      this.log.warn({ err: error, digest }, 'Could not read manifest descriptions');
      return;
    }
    let info: ManifestInfo;
    try {
      info = await this.fetch(lookup);
      this.unknown.delete(digest);
      this.warned = false;
    } catch (error) {
      const failures = (this.unknown.get(digest)?.failures ?? 0) + 1;
      this.unknown.set(digest, { failures, until: this.now() + Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), LAST_RETRY_MS) });
      if (!this.warned) {
        this.log.warn(
          { err: error, repository: lookup.repository, digest },
          'Could not read a manifest from the registry; its architecture falls back to the User-Agent until it can',
        );
        this.warned = true;
      }
      return;
    }
    this.remember(digest, info);
    // Closed: the worker is shutting down and its database with it.
    if (this.closed) return;
    try {
      await saveManifestDescriptions(db, withChildren(digest, info));
    } catch (error) {
      this.log.warn({ err: error, digest }, 'Could not save a manifest description');
    }
  }

  private async fetch({ repository, digest }: Lookup): Promise<ManifestInfo> {
    const manifest = await this.registry!.getManifest(repository, digest);
    if (INDEX_MEDIA_TYPES.has(manifest.mediaType) || Array.isArray(manifest.json.manifests)) {
      return { kind: 'index', children: childrenOfIndex(manifest.json) };
    }
    const config = manifest.json.config;
    const configDigest = isObject(config) && typeof config.digest === 'string' ? config.digest : undefined;
    if (!configDigest) return { kind: 'image' };
    const blob: unknown = JSON.parse((await this.registry!.getBlob(repository, configDigest)).toString('utf8'));
    const platform = platformOf(blob);
    return platform ? { kind: 'image', platform } : { kind: 'image' };
  }
}
