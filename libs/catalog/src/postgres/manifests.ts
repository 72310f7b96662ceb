// Manifests in registry_manifests, once per digest: their summaries for the tag lists and their details for the tag page.
import { sql, type SqlBool } from 'kysely';
import type { Executor } from '@staticreg/db';
import { summarize, type ManifestDetails } from '../model.js';
import { manifestsToKeep } from '../store.js';

export async function readDetails(db: Executor, digest: string): Promise<ManifestDetails | undefined> {
  const row = await db.selectFrom('registry_manifests').select('details').where('digest', '=', digest).executeTakeFirst();
  // Written by insertManifests from a ManifestDetails, read back as the same JSON.
  return row?.details as ManifestDetails | undefined;
}

/** Digests among these that are described already. */
export async function knownDigests(db: Executor, digests: readonly string[]): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const rows = await db
    .selectFrom('registry_manifests')
    .select('digest')
    .where((eb) => eb('digest', '=', eb.fn.any(eb.val([...digests]))))
    .execute();
  return new Set(rows.map((row) => row.digest));
}

/** Keeps the manifests (with an index's images, see manifestsToKeep) not kept yet. */
export async function insertManifests(db: Executor, manifests: readonly ManifestDetails[]): Promise<void> {
  const entries = manifestsToKeep(manifests).sort((a, b) => (a.digest < b.digest ? -1 : 1));
  if (entries.length === 0) return;
  const summaries = entries.map(summarize);
  await sql`
    insert into registry_manifests (digest, media_type, kind, size, created, platforms, details)
    select * from unnest(
      ${summaries.map((s) => s.digest)}::text[],
      ${summaries.map((s) => s.mediaType)}::text[],
      ${summaries.map((s) => s.kind)}::text[],
      ${summaries.map((s) => s.size)}::bigint[],
      ${summaries.map((s) => s.created ?? null)}::timestamptz[],
      ${summaries.map((s) => JSON.stringify(s.platforms))}::jsonb[],
      ${entries.map((details) => JSON.stringify(details))}::jsonb[])
    on conflict (digest) do nothing`.execute(db);
}

/** Forgets manifests no tag points to, directly or as a platform of an index a tag points to; returns how many. */
export async function pruneManifests(db: Executor): Promise<number> {
  const result = await db
    .deleteFrom('registry_manifests as m')
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('registry_tags as t').select(sql.lit(1).as('one')).whereRef('t.digest', '=', 'm.digest'))),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('registry_tags as t')
            .innerJoin('registry_manifests as parent', (join) => join.onRef('parent.digest', '=', 't.digest').on('parent.kind', '=', 'index'))
            .select(sql.lit(1).as('one'))
            .where(sql<SqlBool>`parent.platforms @> jsonb_build_array(jsonb_build_object('digest', m.digest))`),
        ),
      ),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
