// The repository tree in registry_paths: one row per folder or repository with what lies below it, read one folder
// at a time and kept in step with every repository added, removed or refreshed.
import { sql } from 'kysely';
import type { Executor } from '@staticreg/db';
import { parentPath, type FolderListing } from '../store.js';

/** Every strict ancestor path of a repository name: a/b/c -> a, a/b. */
export function ancestors(name: string): string[] {
  const segments = name.split('/');
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

export async function readFolder(db: Executor, path: string, offset: number, limit: number): Promise<FolderListing> {
  // One after the other: a transaction's statements share its one connection.
  const rows = await db
    .selectFrom('registry_paths')
    .select(['path', 'name', 'is_repository', 'repositories_below', 'tags'])
    .where('parent', '=', path)
    .orderBy('name')
    .limit(limit)
    .offset(offset)
    .execute();
  const self = path === '' ? undefined : await db.selectFrom('registry_paths').select('is_repository').where('path', '=', path).executeTakeFirst();
  const count = await db
    .selectFrom('registry_paths')
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('total'))
    .where('parent', '=', path)
    .executeTakeFirstOrThrow();
  return {
    path,
    isRepository: self?.is_repository ?? false,
    total: count.total,
    entries: rows.map((row) => ({ name: row.name, path: row.path, isRepository: row.is_repository, repositoriesBelow: row.repositories_below, tags: Number(row.tags) })),
  };
}

/** Adds the paths of new repositories and the folders above them, counting each repository in every folder above it. */
export async function addRepositoryPaths(trx: Executor, added: ReadonlySet<string>): Promise<void> {
  const paths = new Map<string, number>();
  for (const name of added) {
    if (!paths.has(name)) paths.set(name, 0);
    for (const ancestor of ancestors(name)) paths.set(ancestor, (paths.get(ancestor) ?? 0) + 1);
  }
  const sorted = [...paths.keys()].sort();
  await sql`
    insert into registry_paths (path, parent, name)
    select * from unnest(${sorted}::text[], ${sorted.map(parentPath)}::text[], ${sorted.map((path) => path.split('/').at(-1)!)}::text[])
    on conflict (path) do nothing`.execute(trx);
  await sql`
    update registry_paths p set
      repositories_below = p.repositories_below + d.below,
      is_repository = p.is_repository or d.repository
    from unnest(${sorted}::text[], ${sorted.map((path) => paths.get(path)!)}::int[], ${sorted.map((path) => added.has(path))}::boolean[])
      as d(path, below, repository)
    where p.path = d.path`.execute(trx);
}

/** Takes removed repositories and their tags out of the paths above them; drops the paths nothing is left under. */
export async function removeRepositoryPaths(trx: Executor, removed: ReadonlyArray<{ name: string; tagCount: number }>): Promise<void> {
  const below = new Map<string, number>();
  const tags = new Map<string, number>();
  const repositories = new Set<string>();
  for (const { name, tagCount } of removed) {
    repositories.add(name);
    tags.set(name, (tags.get(name) ?? 0) + tagCount);
    for (const ancestor of ancestors(name)) {
      below.set(ancestor, (below.get(ancestor) ?? 0) + 1);
      tags.set(ancestor, (tags.get(ancestor) ?? 0) + tagCount);
    }
  }
  const sorted = [...tags.keys()].sort();
  await sql`
    update registry_paths p set
      repositories_below = p.repositories_below - d.below,
      tags = p.tags - d.tags,
      is_repository = p.is_repository and not d.repository
    from unnest(${sorted}::text[], ${sorted.map((path) => below.get(path) ?? 0)}::int[], ${sorted.map((path) => tags.get(path)!)}::bigint[], ${sorted.map((path) => repositories.has(path))}::boolean[])
      as d(path, below, tags, repository)
    where p.path = d.path`.execute(trx);
  await trx
    .deleteFrom('registry_paths')
    .where((eb) => eb('path', '=', eb.fn.any(eb.val(sorted))))
    .where('is_repository', '=', false)
    .where('repositories_below', '<=', 0)
    .execute();
}

/** Adds `delta` tags to a repository's path and every folder above it. */
export async function addTagsToPaths(trx: Executor, name: string, delta: number): Promise<void> {
  if (delta === 0) return;
  const paths = [...ancestors(name), name].sort();
  await trx
    .updateTable('registry_paths')
    .set((eb) => ({ tags: eb('tags', '+', delta) }))
    .where((eb) => eb('path', '=', eb.fn.any(eb.val(paths))))
    .execute();
}
