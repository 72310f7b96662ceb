// Finding repositories in registry_repositories: one by name, several by name, and search by part of a name.
import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '@staticreg/db';
import type { RepositoryInfo } from '../store.js';

interface RepositoryRecord {
  name: string;
  tag_count: number;
  refreshed_at: Date | null;
  error: string | null;
}

const REPOSITORY_COLUMNS = ['name', 'tag_count', 'refreshed_at', 'error'] as const;

function repositoryInfo(row: RepositoryRecord): RepositoryInfo {
  return { name: row.name, tagCount: row.tag_count, refreshedAt: row.refreshed_at?.getTime(), ...(row.error ? { error: row.error } : {}) };
}

/** `text` matched literally by LIKE: its wildcards and the escape character escaped. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

export async function readRepository(db: Executor, name: string): Promise<RepositoryInfo | undefined> {
  const row = await db.selectFrom('registry_repositories').select(REPOSITORY_COLUMNS).where('name', '=', name).executeTakeFirst();
  return row ? repositoryInfo(row) : undefined;
}

export async function readRepositoriesNamed(db: Executor, names: readonly string[]): Promise<RepositoryInfo[]> {
  if (names.length === 0) return [];
  const rows = await db
    .selectFrom('registry_repositories')
    .select(REPOSITORY_COLUMNS)
    .where((eb) => eb('name', '=', eb.fn.any(eb.val([...names]))))
    .execute();
  return rows.map(repositoryInfo);
}

/** Repositories whose name contains `query` in any case: exact, then prefix (of the name or a segment), then the rest. */
export async function searchRepositories(db: Executor, query: string, offset: number, limit: number): Promise<{ total: number; repositories: RepositoryInfo[] }> {
  const needle = query.trim().toLowerCase();
  if (needle === '') return { total: 0, repositories: [] };
  // search_name is lower(name) in byte order (migration 0006). LIKE on it is a trigram index scan when few names
  // match, a plain scan with no lower() per row when most do. The ranks test the matches with plain string functions,
  // which no index serves: each statement reads the index once, not once per LIKE.
  const contains = sql`search_name like ${`%${escapeLike(needle)}%`}`;
  const prefix = sql`(starts_with(search_name, ${needle}) or strpos(search_name, ${`/${needle}`}) > 0)`;
  // How many names each rank holds, in one pass; then each rank's share of the page, read in name order (when a
  // rank is dense, an index scan that stops after the page; when it is sparse, its few rows sorted).
  const counts = await sql<{ exact: number; prefix: number; total: number }>`
    select count(*) filter (where search_name = ${needle})::int as exact, count(*) filter (where ${prefix})::int as prefix, count(*)::int as total
    from registry_repositories where ${contains}`.execute(db);
  const { exact, prefix: prefixed, total } = counts.rows[0]!;
  const ranks = [
    { size: exact, where: sql`search_name = ${needle}` },
    { size: prefixed - exact, where: sql`${contains} and ${prefix} and search_name <> ${needle}` },
    { size: total - prefixed, where: sql`${contains} and not ${prefix}` },
  ];
  const parts: RawBuilder<unknown>[] = [];
  let before = 0;
  ranks.forEach(({ size, where }, rank) => {
    const from = Math.max(0, offset - before);
    const to = Math.min(size, offset + limit - before);
    if (to > from) {
      parts.push(sql`(select name, tag_count, refreshed_at, error, ${rank}::int as rank from registry_repositories
        where ${where} order by name collate "C" limit ${to - from} offset ${from})`);
    }
    before += size;
  });
  if (parts.length === 0) return { total, repositories: [] };
  const page = await sql<RepositoryRecord>`
    select name, tag_count, refreshed_at, error from (${sql.join(parts, sql` union all `)}) as page
    order by rank, name collate "C"`.execute(db);
  return { total, repositories: page.rows.map(repositoryInfo) };
}
