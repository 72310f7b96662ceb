// Finds what a manifest digest is (index with children, or image with a platform): from the event, a cache, or the registry.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { INDEX_MEDIA_TYPES, platformName, type ManifestInfo, type PullEvent } from '@staticreg/events';
import { loadManifestDescriptions, saveManifestDescriptions, type Database } from '@staticreg/db';
import type { RegistryClient } from '@staticreg/registry';

const MEMORY_LIMIT = 20_000;
const RETRY_UNKNOWN_MS = 60_000;
const FETCH_CONCURRENCY = 4;

type Json = Record<string, unknown>;

function platformOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { architecture, variant } = value as Json;
  return typeof architecture === 'string' ? platformName(architecture, typeof variant === 'string' ? variant : undefined) : undefined;
}

/** An index's children from its manifest JSON: digest -> platform ('' when the index names none). */
export function childrenOfIndex(json: Json): Map<string, string> {
  const children = new Map<string, string>();
  const manifests = Array.isArray(json.manifests) ? json.manifests : [];
  for (const entry of manifests) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { digest, platform } = entry as Json;
    if (typeof digest === 'string') children.set(digest, platformOf(platform) ?? '');
  }
  return children;
}

/**
 * Digests never change, so every answer is kept: in memory, and in manifest_descriptions for the other workers.
 * A digest the registry cannot describe now (unreachable, deleted) is asked again after a minute.
 */
export class ManifestResolver {
  private readonly memory = new Map<string, ManifestInfo>();
  private readonly unknownUntil = new Map<string, number>();
  private warned = false;

  constructor(
    private readonly registry: RegistryClient | undefined,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private remember(digest: string, info: ManifestInfo): void {
    if (this.memory.size >= MEMORY_LIMIT) this.memory.delete(this.memory.keys().next().value!);
    this.memory.set(digest, info);
  }

  /** Descriptions of the manifests these events name, as far as they can be known now. */
  async describe(db: Kysely<Database>, events: readonly PullEvent[]): Promise<Map<string, ManifestInfo>> {
    const found = new Map<string, ManifestInfo>();
    const learned = new Map<string, ManifestInfo>();
    const wanted = new Map<string, PullEvent>();
    for (const event of events) {
      if (event.references && INDEX_MEDIA_TYPES.has(event.mediaType)) {
        const children = new Map(event.references.map((reference) => [reference.digest, reference.platform ?? '']));
        learned.set(event.digest, { kind: 'index', children });
      } else if (!wanted.has(event.digest)) wanted.set(event.digest, event);
    }
    for (const [digest, info] of learned) found.set(digest, info);
    for (const digest of [...wanted.keys()]) {
      const info = this.memory.get(digest) ?? found.get(digest);
      if (info) {
        found.set(digest, info);
        wanted.delete(digest);
      }
    }
    if (wanted.size > 0) {
      for (const [digest, info] of await loadManifestDescriptions(db, [...wanted.keys()])) {
        found.set(digest, info);
        this.remember(digest, info);
        wanted.delete(digest);
      }
    }
    const now = this.now();
    const toFetch = [...wanted.values()].filter((event) => (this.unknownUntil.get(event.digest) ?? 0) <= now);
    // Indexes first: their children's platforms spare one config fetch per child.
    const indexes = toFetch.filter((event) => INDEX_MEDIA_TYPES.has(event.mediaType));
    const images = toFetch.filter((event) => !INDEX_MEDIA_TYPES.has(event.mediaType));
    await this.fetchAll(indexes, found, learned);
    const childPlatforms = new Map<string, string>();
    for (const info of [...found.values(), ...this.memory.values()]) {
      for (const [child, platform] of info.children ?? []) if (platform) childPlatforms.set(child, platform);
    }
    const stillImages = images.filter((event) => {
      const platform = childPlatforms.get(event.digest);
      if (!platform) return true;
      const info: ManifestInfo = { kind: 'image', platform };
      found.set(event.digest, info);
      learned.set(event.digest, info);
      return false;
    });
    await this.fetchAll(stillImages, found, learned);
    if (learned.size > 0) {
      await saveManifestDescriptions(db, learned);
      for (const [digest, info] of learned) this.remember(digest, info);
    }
    return found;
  }

  private async fetchAll(events: PullEvent[], found: Map<string, ManifestInfo>, learned: Map<string, ManifestInfo>): Promise<void> {
    if (!this.registry || events.length === 0) return;
    let next = 0;
    const work = async (): Promise<void> => {
      while (next < events.length) {
        const event = events[next++]!;
        try {
          const info = await this.fetchOne(event);
          found.set(event.digest, info);
          learned.set(event.digest, info);
          this.warned = false;
        } catch (error) {
          this.unknownUntil.set(event.digest, this.now() + RETRY_UNKNOWN_MS);
          if (!this.warned) {
            this.log.warn({ err: error, repository: event.repository, digest: event.digest }, 'Could not read a manifest from the registry; architecture falls back to the User-Agent');
            this.warned = true;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, events.length) }, work));
  }

  private async fetchOne(event: PullEvent): Promise<ManifestInfo> {
    const manifest = await this.registry!.getManifest(event.repository, event.digest);
    if (INDEX_MEDIA_TYPES.has(manifest.mediaType) || Array.isArray(manifest.json.manifests)) {
      return { kind: 'index', children: childrenOfIndex(manifest.json) };
    }
    const config = manifest.json.config as Json | undefined;
    const configDigest = typeof config?.digest === 'string' ? config.digest : undefined;
    if (!configDigest) return { kind: 'image' };
    const blob = JSON.parse((await this.registry!.getBlob(event.repository, configDigest)).toString('utf8')) as Json;
    const platform = platformOf(blob);
    return platform ? { kind: 'image', platform } : { kind: 'image' };
  }
}
