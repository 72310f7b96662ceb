// The catalog's counts for the pages (how many repositories, tags and manifests; when listed), cached briefly.
import { sql, type Kysely } from 'kysely';
import type { Database } from '@staticreg/db';
import type { CatalogStats } from '../store.js';

const STATS_TTL_MS = 2000;

async function readStats(db: Kysely<Database>): Promise<CatalogStats> {
  const row = await db
    .selectFrom('registry_repositories')
    .select((eb) => [
      eb.cast<number>(eb.fn.countAll(), 'integer').as('repositories'),
      eb.fn.coalesce(eb.fn.sum<number>('tag_count'), sql<number>`0`).as('tags'),
      eb.cast<number>(eb.fn.countAll().filterWhere('refreshed_at', 'is', null), 'integer').as('never'),
      eb.fn.min('refreshed_at').as('oldest'),
      eb.selectFrom('registry_manifests').select((inner) => inner.cast<number>(inner.fn.countAll(), 'integer').as('count')).as('manifests'),
      eb.selectFrom('registry_catalog_state').select('listed_at').where('id', '=', 1).as('listed_at'),
    ])
    .executeTakeFirstOrThrow();
  return {
    repositories: row.repositories,
    tags: Number(row.tags),
    manifests: row.manifests ?? 0,
    ...(row.listed_at ? { catalogListedAt: row.listed_at.getTime() } : {}),
    ...(row.never === 0 && row.oldest ? { oldestRefreshAt: row.oldest.getTime() } : {}),
    neverRefreshed: row.never,
    truncated: false,
  };
}

/**
 * Every page reads the stats (to know whether the catalog was ever listed): one read per STATS_TTL_MS, shared by the
 * pages asking meanwhile. Writes by other replicas show within STATS_TTL_MS; this process's own writes call
 * `forget` so a cached "never listed" does not answer 503 after the first listing committed.
 */
export class CachedStats {
  private cached: { at: number; value: Promise<CatalogStats> } | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
  ) {}

  get(): Promise<CatalogStats> {
    const now = this.now();
    if (!this.cached || now - this.cached.at > STATS_TTL_MS) {
      const value = readStats(this.db);
      this.cached = { at: now, value };
      value.catch(() => (this.cached = undefined));
    }
    return this.cached.value;
  }

  forget(): void {
    this.cached = undefined;
  }
}
