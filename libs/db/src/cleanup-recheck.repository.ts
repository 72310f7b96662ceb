// What cleanup apply reads again from the catalog before a delete: the manifests whose use counts for a digest.
import type { Executor } from './executor.js';

function childDigests(details: unknown): string[] {
  if (typeof details !== 'object' || details === null) return [];
  const children = (details as { children?: unknown }).children;
  if (!Array.isArray(children)) return [];
  return children
    .map((child) => (typeof child === 'object' && child !== null ? (child as { digest?: unknown }).digest : undefined))
    .filter((digest): digest is string => typeof digest === 'string');
}

/**
 * `digest` with its platform manifests when it is an index, and the indexes tagged in `repository` that list it
 * when it is a platform manifest: an index's use covers its platforms and the reverse (issue 12).
 */
export async function digestWithRelatives(db: Executor, repository: string, digest: string): Promise<string[]> {
  const [own, indexes] = await Promise.all([
    db.selectFrom('registry_manifests').select('details').where('digest', '=', digest).executeTakeFirst(),
    db
      .selectFrom('registry_tags')
      .innerJoin('registry_manifests', 'registry_manifests.digest', 'registry_tags.digest')
      .select(['registry_manifests.digest', 'registry_manifests.details'])
      .where('registry_tags.repository', '=', repository)
      .where('registry_manifests.kind', '=', 'index')
      .distinct()
      .execute(),
  ]);
  const related = new Set([digest, ...childDigests(own?.details)]);
  for (const index of indexes) if (childDigests(index.details).includes(digest)) related.add(index.digest);
  return [...related];
}
