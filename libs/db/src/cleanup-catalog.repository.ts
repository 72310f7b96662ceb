// The registry catalog as cleanup reads it: repositories in pages, their tags, and what each manifest holds.
import { sql } from 'kysely';
import type { Executor } from './executor.js';

export interface CleanupTagRow {
  repository: string;
  tag: string;
  digest: string;
  created: Date | null;
}

/** A manifest's descriptor of a config or layer blob. */
export interface BlobRow {
  digest: string;
  size: number;
}

export interface CleanupManifestRow {
  digest: string;
  kind: 'image' | 'index';
  created: Date | null;
  /** When the catalog first described it (kept on later crawls): the manifest was pushed before. */
  firstSeen: Date;
  /** An index's children digests; [] for an image. */
  children: string[];
  /** An image's config and layers; an index's images' configs and layers (from the children it could read). */
  blobs: BlobRow[];
}

/** Up to `limit` repository names after `after`, in byte order (the order idx_registry_repositories_name_c serves). */
export async function repositoryNamesAfter(db: Executor, after: string | null, limit: number): Promise<string[]> {
  let query = db.selectFrom('registry_repositories').select('name').orderBy(sql`name collate "C"`).limit(limit);
  if (after !== null) query = query.where(sql<string>`name collate "C"`, '>', after);
  return (await query.execute()).map((row) => row.name);
}

export async function tagsOfRepositories(db: Executor, repositories: readonly string[]): Promise<CleanupTagRow[]> {
  if (repositories.length === 0) return [];
  return db
    .selectFrom('registry_tags')
    .select(['repository', 'tag', 'digest', 'created'])
    .where('repository', '=', sql<string>`any(${repositories}::text[])`)
    .execute();
}

/** The children and blobs of the given manifests, read out of their details JSON (not the whole document). */
export async function manifestsForCleanup(db: Executor, digests: readonly string[]): Promise<CleanupManifestRow[]> {
  if (digests.length === 0) return [];
  return db
    .selectFrom('registry_manifests')
    .select([
      'digest',
      'kind',
      'created',
      'described_at as firstSeen',
      sql<string[]>`jsonb_path_query_array(details, '$.children[*].digest')`.as('children'),
      sql<BlobRow[]>`case when kind = 'index'
        then jsonb_path_query_array(details, '$.images[*].configDescriptor ? (@.digest != "")')
          || jsonb_path_query_array(details, '$.images[*].layers[*]')
        else jsonb_path_query_array(details, '$.configDescriptor ? (@.digest != "")')
          || jsonb_path_query_array(details, '$.layers[*]') end`.as('blobs'),
    ])
    .where('digest', '=', sql<string>`any(${digests}::text[])`)
    .execute();
}

/** How many repositories the catalog holds: 0 means browse's Postgres catalog has not been filled. */
export async function catalogRepositoryCount(db: Executor): Promise<number> {
  const row = await db.selectFrom('registry_repositories').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  return Number(row.count);
}
