// The catalog in Postgres (migrations 0004 and 0006): shared by browse replicas, sorted and searched with indexes, joined
// with container_pull_metrics and container_pull_checks for pulls, checks and last seen.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { lastSeenDays, readTagUsage, tagPullWindows, tagsSeenSince, type Database, type Executor, type TagUsageRow } from '@staticreg/db';
import { firstDayOfLast } from '@staticreg/events';
import type { ManifestDetails, ManifestSummary, PlatformSummary } from './model.js';
import { holdPassLease, releasePassLease } from './postgres/lease.js';
import { insertManifests, knownDigests, pruneManifests, readDetails } from './postgres/manifests.js';
import { CachedStats } from './postgres/stats.js';
import { readFolder } from './postgres/tree.js';
import { markRepositoryError, removeRepository, repositoriesForRefresh, saveRepositoryTags, syncRepositoryNames } from './postgres/writes.js';
import type { CatalogStats, CatalogStore, FolderListing, RepositoryInfo, TagPage, TagQuery, TagRow, TagUsage } from './store.js';

type Db = Executor;

interface RepositoryRecord {
  name: string;
  tag_count: number;
  refreshed_at: Date | null;
  error: string | null;
}

function repositoryInfo(row: RepositoryRecord): RepositoryInfo {
  return { name: row.name, tagCount: row.tag_count, refreshedAt: row.refreshed_at?.getTime(), ...(row.error ? { error: row.error } : {}) };
}

interface TagRecord {
  tag: string;
  digest: string;
  media_type: string | null;
  kind: 'image' | 'index' | null;
  size: number | null;
  created: Date | null;
  platforms: PlatformSummary[] | null;
}

const NO_USAGE: TagUsage = { pulls7: 0, pulls30: 0, checks7: 0, checks30: 0 };

function usageOf(row: TagUsageRow | undefined): TagUsage {
  if (!row) return NO_USAGE;
  const lastSeen = [row.lastPulled, row.lastChecked].filter((day): day is string => day !== null).sort().at(-1);
  return {
    pulls7: row.pulls7,
    pulls30: row.pulls30,
    checks7: row.checks7,
    checks30: row.checks30,
    ...(row.lastPulled ? { lastPulled: row.lastPulled } : {}),
    ...(row.lastChecked ? { lastChecked: row.lastChecked } : {}),
    ...(lastSeen ? { lastSeen } : {}),
  };
}

/** A tag with its manifest's summary columns (null while the manifest is not described). */
type TagColumns = Pick<TagRecord, 'tag' | 'digest' | 'media_type' | 'kind' | 'size' | 'created' | 'platforms'>;

function tagRow(row: TagColumns, usage?: TagUsage): TagRow {
  const summary: ManifestSummary | undefined =
    row.kind && row.media_type !== null
      ? {
          digest: row.digest,
          mediaType: row.media_type,
          kind: row.kind,
          size: Number(row.size ?? 0),
          ...(row.created ? { created: row.created.toISOString() } : {}),
          platforms: row.platforms ?? [],
        }
      : undefined;
  return { tag: row.tag, digest: row.digest, ...(summary ? { summary } : {}), ...(usage ? { usage } : {}) };
}

/** `text` matched literally by LIKE: its wildcards and the escape character escaped. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

interface TagOrderRow {
  tag: string;
  digest: string;
  created: Date | null;
  /** Tags that pass the unseen filter, on every row when it is on. */
  total?: number;
}

/**
 * Each tag of the repository with its place in name order, read in primary-key order (no sort): the usage sorts break
 * ties by it, comparing numbers where comparing names in staticreg_natural (ICU) took 20 ms for 4,000 tags seen on the
 * same day.
 */
function namePositions(repository: string): RawBuilder<unknown> {
  return sql`positions as (select t.tag, row_number() over (order by t.tag) as position from registry_tags t where t.repository = ${repository})`;
}

export interface PostgresStoreOptions {
  /** This replica's name in the crawl-pass lease. */
  owner: string;
  now?: () => number;
}

export class PostgresCatalogStore implements CatalogStore {
  readonly kind = 'postgres' as const;
  readonly hasUsage = true;
  private readonly cachedStats: CachedStats;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: PostgresStoreOptions,
  ) {
    this.cachedStats = new CachedStats(db, options.now ?? Date.now);
  }

  /**
   * Runs a page's statements in one read-only REPEATABLE READ transaction: a crawl committing between them cannot
   * make a page's total and its rows come from two states of the catalog.
   */
  private snapshot<T>(read: (db: Db) => Promise<T>): Promise<T> {
    return this.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(read);
  }

  listFolder(path: string, offset: number, limit: number): Promise<FolderListing> {
    return this.snapshot((db) => readFolder(db, path, offset, limit));
  }

  search(query: string, offset: number, limit: number): Promise<{ total: number; repositories: RepositoryInfo[] }> {
    return this.snapshot((db) => this.searchIn(db, query, offset, limit));
  }

  private async searchIn(db: Db, query: string, offset: number, limit: number): Promise<{ total: number; repositories: RepositoryInfo[] }> {
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

  async repositoriesNamed(names: readonly string[]): Promise<RepositoryInfo[]> {
    if (names.length === 0) return [];
    const result = await sql<RepositoryRecord>`select name, tag_count, refreshed_at, error from registry_repositories where name = any(${[...names]}::text[])`.execute(this.db);
    return result.rows.map(repositoryInfo);
  }

  getRepository(name: string): Promise<RepositoryInfo | undefined> {
    return this.repositoryIn(this.db, name);
  }

  private async repositoryIn(db: Db, name: string): Promise<RepositoryInfo | undefined> {
    const result = await sql<RepositoryRecord>`select name, tag_count, refreshed_at, error from registry_repositories where name = ${name}`.execute(db);
    return result.rows[0] ? repositoryInfo(result.rows[0]) : undefined;
  }

  listTags(name: string, query: TagQuery): Promise<TagPage | undefined> {
    return this.snapshot((db) => this.tagsIn(db, name, query));
  }

  private async tagsIn(db: Db, name: string, query: TagQuery): Promise<TagPage | undefined> {
    const repository = await this.repositoryIn(db, name);
    if (!repository) return undefined;
    const { rows, total } = await this.tagOrder(db, name, query, repository.tagCount);
    if (rows.length === 0) return { repository, total, tags: [] };
    // The page's 50 tags only: their manifests' summaries, and their pulls, checks and last days.
    const digests = [...new Set(rows.map((row) => row.digest))];
    const tags = rows.map((row) => row.tag);
    const manifests = await sql<Pick<TagRecord, 'digest' | 'media_type' | 'kind' | 'size' | 'platforms'>>`
      select digest, media_type, kind, size, platforms from registry_manifests where digest = any(${digests}::text[])`.execute(db);
    const usageRows = await readTagUsage(db, name, query.today, tags);
    const manifestOf = new Map(manifests.rows.map((row) => [row.digest, row]));
    const usage = new Map(usageRows.map((row) => [row.tag, usageOf(row)]));
    const undescribed = { media_type: null, kind: null, size: null, platforms: null };
    return {
      repository,
      total,
      tags: rows.map((row) => tagRow({ ...(manifestOf.get(row.digest) ?? undescribed), tag: row.tag, digest: row.digest, created: row.created }, usage.get(row.tag) ?? NO_USAGE)),
    };
  }

  /**
   * One page of a repository's tags in the query's order, and how many there are. Only what the order or the filter
   * needs is read from the count tables, and no query sorts the repository's 10,000 tag names by their collation:
   * name and created are index scans (migration 0006); pulls and last seen sort only the tags that have a value
   * (pulled in 30 days, seen once) and take the others in index order. Without the filter the total is the
   * repository's tag count; with it, a count in the same statement over the same tags seen.
   */
  private async tagOrder(db: Db, name: string, query: TagQuery, tagCount: number): Promise<{ rows: TagOrderRow[]; total: number }> {
    const since = query.unseenSince;
    const seen = since === undefined ? undefined : sql`seen as ${tagsSeenSince(db, name, since)}`;
    const count = seen ? sql`, (select count(*) from registry_tags c where c.repository = ${name} and c.tag not in (select tag from seen))::int as total` : sql``;
    let rows: TagOrderRow[] | undefined;
    if (query.sort === 'last-seen' && query.order === 'desc' && since === undefined) rows = await this.recentlySeen(db, name, query);
    rows ??= await (query.sort === 'pulls' || query.sort === 'last-seen' ? this.tagsByUsage(db, name, query, seen, count) : this.tagsByColumn(db, name, query, seen, count));
    if (since === undefined) return { rows, total: tagCount };
    // Past the last page no row carries the count: the first page's.
    const total = rows[0]?.total ?? (query.offset > 0 ? (await this.tagOrder(db, name, { ...query, offset: 0, limit: 1 }, tagCount)).total : 0);
    return { rows, total };
  }

  /**
   * Sort by name or created: an index-only scan in that order (skipping the tags seen since the filter's day) finds the
   * page's tags, then only those 50 are read from the table: page 150 of 10,000 tags skips 7,450 index entries, not
   * 7,450 table rows.
   */
  private async tagsByColumn(db: Db, name: string, query: TagQuery, seen: RawBuilder<unknown> | undefined, count: RawBuilder<unknown>): Promise<TagOrderRow[]> {
    const asc = query.order === 'asc';
    const order = (alias: string) => {
      const tag = sql.ref(`${alias}.tag`);
      const created = sql.ref(`${alias}.created`);
      if (query.sort === 'created') return asc ? sql`${created} asc nulls last, ${tag}` : sql`${created} desc nulls last, ${tag}`;
      return asc ? sql`${tag} asc` : sql`${tag} desc`;
    };
    const result = await sql<TagOrderRow>`
      ${seen ? sql`with ${seen}` : sql``}
      select t.tag, t.digest, t.created ${count}
      from (
        select p.tag from registry_tags p
        where p.repository = ${name} ${seen ? sql`and p.tag not in (select tag from seen)` : sql``}
        order by ${order('p')}
        limit ${query.limit} offset ${query.offset}
      ) as page
      join registry_tags t on t.repository = ${name} and t.tag = page.tag
      order by ${order('t')}`.execute(db);
    return result.rows;
  }

  /**
   * Last seen, most recent first (the default of that sort): the page's tags were seen on the latest days, so the days
   * of the last week, then of the last 30, are read first, instead of every day ever. A window holding at least
   * offset + limit tags of the repository gives the page exactly (a tag it lacks was last seen before it); else
   * undefined, and the caller reads every day.
   */
  private async recentlySeen(db: Db, name: string, query: TagQuery): Promise<TagOrderRow[] | undefined> {
    const end = query.offset + query.limit;
    for (const days of [7, 30]) {
      const from = firstDayOfLast(days, query.today);
      const result = await sql<TagOrderRow & { keyed: number }>`
        with ${namePositions(name)},
        keyed as (
          select k.tag, k.day, p.position from ${lastSeenDays(db, name, from)} as k
          join positions p on p.tag = k.tag)
        select t.tag, t.digest, t.created, (select count(*) from keyed)::int as keyed
        from (
          select k.tag, row_number() over (order by k.day desc, k.position) as position
          from keyed k order by position limit ${query.limit} offset ${query.offset}
        ) as page
        join registry_tags t on t.repository = ${name} and t.tag = page.tag collate staticreg_natural
        order by page.position`.execute(db);
      if ((result.rows[0]?.keyed ?? 0) >= end) return result.rows.map(({ tag, digest, created }) => ({ tag, digest, created }));
    }
    return undefined;
  }

  /**
   * Sort by pulls (30 days, then 7, then name) or by last seen (never seen is the oldest; ties by name). Only the tags
   * with a value ("keyed": pulled in 30 days, or seen once) are sorted by it. All others share one value, so they
   * are in name order, read from the primary key, after the keyed tags or before them. Each part gives at most
   * offset + limit rows, numbered in its order; the page is cut from those, then joined to its tags.
   */
  private async tagsByUsage(db: Db, name: string, query: TagQuery, seen: RawBuilder<unknown> | undefined, count: RawBuilder<unknown>): Promise<TagOrderRow[]> {
    const asc = query.order === 'asc';
    const since = query.unseenSince;
    let keyed: RawBuilder<unknown>;
    let keyedPart: RawBuilder<unknown>;
    let keyedOrder: RawBuilder<unknown>;
    let keyedUnseen = sql``;
    if (query.sort === 'pulls') {
      keyed = sql`${tagPullWindows(db, name, query.today)}`;
      // Tags not pulled sort as (0, 0): after the pulled ones descending, before them ascending (a negative sum, which
      // only a hand edit could leave, goes to the other side).
      keyedPart = asc ? sql`case when (k.pulls30, k.pulls7) < (0, 0) then 0 else 2 end` : sql`case when (k.pulls30, k.pulls7) > (0, 0) then 0 else 2 end`;
      keyedOrder = asc ? sql`k.pulls30 asc, k.pulls7 asc, k.position` : sql`k.pulls30 desc, k.pulls7 desc, k.position`;
      if (seen) keyedUnseen = sql`and k.tag not in (select tag from seen)`;
    } else {
      keyed = sql`${lastSeenDays(db, name)}`;
      // Never seen is the oldest: first ascending, last descending.
      keyedPart = asc ? sql`2` : sql`0`;
      keyedOrder = asc ? sql`k.day asc, k.position` : sql`k.day desc, k.position`;
      if (since !== undefined) keyedUnseen = sql`and k.day < ${since}::date`;
    }
    // A tag never seen passes the filter: with last seen, no other tag is left in the rest.
    const restUnseen = seen && query.sort === 'pulls' ? sql`and t.tag not in (select tag from seen)` : sql``;
    const end = query.offset + query.limit;
    // Joined to the repository's tags: pulls and checks of tags no longer in the registry have no place in the order.
    // The NOT IN reads the keyed tags through a GROUP BY, guessed at 200 rows, so it is always hashed (keyed's own
    // estimate, from a join the planner cannot see through, reached 64,000 rows for 2,000: a few times more and the
    // NOT IN would be rescanned for every tag).
    const result = await sql<TagOrderRow>`
      with ${seen ? sql`${seen},` : sql``} ${namePositions(name)},
      keyed as (select k.*, p.position from ${keyed} as k join positions p on p.tag = k.tag)
      select t.tag, t.digest, t.created ${count}
      from (
        select tag, part, rank from (
          (select k.tag, ${keyedPart} as part, row_number() over (order by ${keyedOrder}) as rank
           from keyed k where true ${keyedUnseen} order by rank limit ${end})
          union all
          (select t.tag, 1, row_number() over (order by t.tag) from registry_tags t
           where t.repository = ${name} and t.tag not in (select tag from keyed group by tag) ${restUnseen}
           order by t.tag limit ${end})
        ) as parts
        order by part, rank limit ${query.limit} offset ${query.offset}
      ) as page
      join registry_tags t on t.repository = ${name} and t.tag = page.tag collate staticreg_natural
      order by page.part, page.rank`.execute(db);
    return result.rows;
  }

  async getTag(name: string, tag: string, today: string): Promise<TagRow | undefined> {
    const result = await sql<TagRecord>`
      select t.tag, t.digest, m.media_type, m.kind, m.size, t.created, m.platforms
      from registry_tags t left join registry_manifests m on m.digest = t.digest
      where t.repository = ${name} and t.tag = ${tag}`.execute(this.db);
    if (!result.rows[0]) return undefined;
    const [usage] = await readTagUsage(this.db, name, today, [tag]);
    return tagRow(result.rows[0], usageOf(usage));
  }

  getDetails(digest: string): Promise<ManifestDetails | undefined> {
    return readDetails(this.db, digest);
  }

  async putDetails(details: ManifestDetails): Promise<void> {
    await this.changing(() => insertManifests(this.db, [details]));
  }

  /** Runs a write of this process, then drops the cached stats (see CachedStats). */
  private async changing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.cachedStats.forget();
    }
  }

  stats(): Promise<CatalogStats> {
    return this.cachedStats.get();
  }

  syncRepositoryNames(names: readonly string[], listedAt: number): Promise<{ added: number; removed: number }> {
    return this.changing(() => syncRepositoryNames(this.db, names, listedAt));
  }

  repositoriesForRefresh(): Promise<string[]> {
    return repositoriesForRefresh(this.db);
  }

  knownDigests(digests: readonly string[]): Promise<Set<string>> {
    return knownDigests(this.db, digests);
  }

  async saveRepository(name: string, tags: ReadonlyArray<readonly [string, string]>, manifests: readonly ManifestDetails[], refreshedAt: number): Promise<void> {
    await insertManifests(this.db, manifests);
    await this.changing(() => saveRepositoryTags(this.db, name, tags, refreshedAt));
  }

  async markRepositoryError(name: string, message: string, at: number): Promise<void> {
    await this.changing(() => markRepositoryError(this.db, name, message, at));
  }

  async removeRepository(name: string): Promise<void> {
    await this.changing(() => removeRepository(this.db, name));
  }

  pruneManifests(): Promise<number> {
    return this.changing(() => pruneManifests(this.db));
  }

  /** Takes or renews the crawl-pass lease: true when this replica may run passes for the next `leaseMs`. */
  holdPassLease(leaseMs: number): Promise<boolean> {
    return holdPassLease(this.db, this.options.owner, leaseMs);
  }

  /** Gives the lease up at shutdown so another replica takes over at once. */
  releasePassLease(): Promise<void> {
    return releasePassLease(this.db, this.options.owner);
  }
}
