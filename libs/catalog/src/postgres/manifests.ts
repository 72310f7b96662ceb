// Manifests in registry_manifests, once per digest: their summaries for the tag lists and their details for the tag page.
import { sql } from 'kysely';
import type { Executor } from '@staticreg/db';
import { summarize, type ManifestDetails } from '../model.js';

export async function readDetails(db: Executor, digest: string): Promise<ManifestDetails | undefined> {
  const result = await sql<{ details: ManifestDetails }>`select details from registry_manifests where digest = ${digest}`.execute(db);
  return result.rows[0]?.details;
}

/** Digests among these that are described already. */
export async function knownDigests(db: Executor, digests: readonly string[]): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const result = await sql<{ digest: string }>`select digest from registry_manifests where digest = any(${[...digests]}::text[])`.execute(db);
  return new Set(result.rows.map((row) => row.digest));
}

/** Keeps manifests not kept yet, and an index's images as manifests of their own (a tag may point at one). */
export async function insertManifests(db: Executor, manifests: readonly ManifestDetails[]): Promise<void> {
  const all = new Map<string, ManifestDetails>();
  for (const details of manifests) {
    all.set(details.digest, details);
    if (details.kind === 'index') for (const image of details.images) if (!all.has(image.digest)) all.set(image.digest, image);
  }
  if (all.size === 0) return;
  const entries = [...all.values()].sort((a, b) => (a.digest < b.digest ? -1 : 1));
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
  const result = await sql`
    delete from registry_manifests m
    where not exists (select 1 from registry_tags t where t.digest = m.digest)
      and not exists (
        select 1 from registry_tags t join registry_manifests parent on parent.digest = t.digest and parent.kind = 'index'
        where parent.platforms @> jsonb_build_array(jsonb_build_object('digest', m.digest)))`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
