// What the crawler writes: repositories as the registry lists them, each repository's tags, refresh errors.
import { sql, type Kysely } from 'kysely';
import type { Database, Executor } from '@staticreg/db';
import { addRepositoryPaths, addTagsToPaths, removeRepositoryPaths } from './tree.js';

const CHUNK = 5000;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Adds repositories (and the paths above them) that are not there yet; returns how many were new. */
async function addRepositories(trx: Executor, names: readonly string[]): Promise<number> {
  let added = 0;
  for (const part of chunks([...names].sort())) {
    const inserted = await sql<{ name: string }>`
      insert into registry_repositories (name) select unnest(${part}::text[])
      on conflict (name) do nothing returning name`.execute(trx);
    const fresh = new Set(inserted.rows.map((row) => row.name));
    if (fresh.size === 0) continue;
    added += fresh.size;
    await addRepositoryPaths(trx, fresh);
  }
  return added;
}

/** Removes repositories with their tags, and the paths nothing is left under; returns how many there were. */
async function deleteRepositories(trx: Executor, names: readonly string[]): Promise<number> {
  let removed = 0;
  for (const part of chunks([...names].sort())) {
    const deleted = await trx
      .deleteFrom('registry_repositories')
      .where((eb) => eb('name', '=', eb.fn.any(eb.val(part))))
      .returning(['name', 'tag_count'])
      .execute();
    if (deleted.length === 0) continue;
    removed += deleted.length;
    await removeRepositoryPaths(trx, deleted.map((row) => ({ name: row.name, tagCount: row.tag_count })));
  }
  return removed;
}

/** The whole catalog as just listed: new names are added (not read yet), missing ones removed. */
export function syncRepositoryNames(db: Kysely<Database>, names: readonly string[], listedAt: number): Promise<{ added: number; removed: number }> {
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('registry_repositories').select('name').execute();
    const listed = new Set(names);
    const gone = existing.map((row) => row.name).filter((name) => !listed.has(name));
    const removed = await deleteRepositories(trx, gone);
    const added = await addRepositories(trx, names);
    await trx.updateTable('registry_catalog_state').set({ listed_at: new Date(listedAt) }).where('id', '=', 1).execute();
    return { added, removed };
  });
}

/** Every repository, those never read first, then the least recently refreshed. */
export async function repositoriesForRefresh(db: Executor): Promise<string[]> {
  const rows = await db
    .selectFrom('registry_repositories')
    .select('name')
    .orderBy('refreshed_at', (order) => order.asc().nullsFirst())
    .orderBy('name')
    .execute();
  return rows.map((row) => row.name);
}

/** Replaces a repository's tags (adding the repository if new); their manifests must be kept already. */
export function saveRepositoryTags(db: Kysely<Database>, name: string, tags: ReadonlyArray<readonly [string, string]>, refreshedAt: number): Promise<void> {
  return db.transaction().execute(async (trx) => {
    await addRepositories(trx, [name]);
    // The row lock serialises two replicas refreshing the same repository (both notified of one push).
    const before = await trx.selectFrom('registry_repositories').select('tag_count').where('name', '=', name).forUpdate().executeTakeFirst();
    const oldCount = before?.tag_count ?? 0;
    const names = tags.map(([tag]) => tag);
    await trx
      .deleteFrom('registry_tags')
      .where('repository', '=', name)
      .where((eb) => eb.not(eb('tag', '=', eb.fn.any(eb.val(names)))))
      .execute();
    for (const part of chunks(tags)) {
      await sql`
        insert into registry_tags (repository, tag, digest, created)
        select ${name}, r.tag, r.digest, m.created
        from unnest(${part.map(([tag]) => tag)}::text[], ${part.map(([, digest]) => digest)}::text[]) as r(tag, digest)
        left join registry_manifests m on m.digest = r.digest
        on conflict (repository, tag) do update set digest = excluded.digest, created = excluded.created
        where registry_tags.digest <> excluded.digest or registry_tags.created is distinct from excluded.created`.execute(trx);
    }
    await trx
      .updateTable('registry_repositories')
      .set({ tag_count: tags.length, refreshed_at: new Date(refreshedAt), error: null })
      .where('name', '=', name)
      .execute();
    await addTagsToPaths(trx, name, tags.length - oldCount);
  });
}

/** Records a failed refresh: the message (the previous tags are kept), and a first refresh time if there was none. */
export async function markRepositoryError(db: Executor, name: string, message: string, at: number): Promise<void> {
  await db
    .updateTable('registry_repositories')
    .set((eb) => ({ error: message.slice(0, 2000), refreshed_at: eb.fn.coalesce('refreshed_at', eb.val(new Date(at))) }))
    .where('name', '=', name)
    .execute();
}

export async function removeRepository(db: Kysely<Database>, name: string): Promise<void> {
  await db.transaction().execute((trx) => deleteRepositories(trx, [name]));
}
