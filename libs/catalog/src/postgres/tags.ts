// A repository's tags in the pages' four orders (name, created, pulls, last seen), paged, with the unseen filter;
// each page's tags with their manifests' summaries and their pulls and checks.
import { sql, type Expression, type RawBuilder } from 'kysely';
import { lastSeenDays, readTagUsage, tagPullWindows, tagsSeenSince, type Executor, type TagUsageRow } from '@staticreg/db';
import { firstDayOfLast } from '@staticreg/events';
import type { ManifestSummary, PlatformSummary } from '../model.js';
import type { TagPage, TagQuery, TagRow, TagUsage } from '../store.js';
import { readRepository } from './search.js';

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

interface TagOrderRow {
  tag: string;
  digest: string;
  created: Date | null;
  /** Tags that pass the unseen filter, on every row when it is on. */
  total?: number;
}

/**
 * Each tag of the repository with its place in name order, read in primary-key order (no sort): the usage sorts break
 * ties by it, comparing integers instead of names in staticreg_natural, whose ICU comparisons make sorting thousands
 * of tags slow (docs/performance.md, Collation).
 */
function namePositions(repository: string): RawBuilder<unknown> {
  return sql`positions as (select t.tag, row_number() over (order by t.tag) as position from registry_tags t where t.repository = ${repository})`;
}

export async function readTagPage(db: Executor, name: string, query: TagQuery): Promise<TagPage | undefined> {
  const repository = await readRepository(db, name);
  if (!repository) return undefined;
  const { rows, total } = await tagOrder(db, name, query, repository.tagCount);
  if (rows.length === 0) return { repository, total, tags: [] };
  // The page's 50 tags only: their manifests' summaries, and their pulls, checks and last days.
  const digests = [...new Set(rows.map((row) => row.digest))];
  const tags = rows.map((row) => row.tag);
  const manifests = await db
    .selectFrom('registry_manifests')
    // platforms is JSONB (unknown to the schema types): written by insertManifests from ManifestSummary.platforms.
    .select((eb) => ['digest', 'media_type', 'kind', 'size', eb.ref('platforms').$castTo<PlatformSummary[]>().as('platforms')])
    .where((eb) => eb('digest', '=', eb.fn.any(eb.val(digests))))
    .execute();
  const usageRows = await readTagUsage(db, name, query.today, tags);
  const manifestOf = new Map(manifests.map((row) => [row.digest, row]));
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
 * needs is read from the count tables, and no query sorts all of a repository's tag names by their collation:
 * name and created are index scans (migration 0006); pulls and last seen sort only the tags that have a value
 * (pulled in 30 days, seen once) and take the others in index order. Without the filter the total is the
 * repository's tag count; with it, a count in the same statement over the same tags seen.
 */
async function tagOrder(db: Executor, name: string, query: TagQuery, tagCount: number): Promise<{ rows: TagOrderRow[]; total: number }> {
  const since = query.unseenSince;
  const seen = since === undefined ? undefined : sql`seen as ${tagsSeenSince(db, name, since)}`;
  const count = seen ? sql`, (select count(*) from registry_tags c where c.repository = ${name} and c.tag not in (select tag from seen))::int as total` : sql``;
  let rows: TagOrderRow[] | undefined;
  if (query.sort === 'last-seen' && query.order === 'desc' && since === undefined) rows = await recentlySeen(db, name, query);
  rows ??= await (query.sort === 'pulls' || query.sort === 'last-seen' ? tagsByUsage(db, name, query, seen, count) : tagsByColumn(db, name, query, seen, count));
  if (since === undefined) return { rows, total: tagCount };
  // Past the last page no row carries the count: the first page's.
  const total = rows[0]?.total ?? (query.offset > 0 ? (await tagOrder(db, name, { ...query, offset: 0, limit: 1 }, tagCount)).total : 0);
  return { rows, total };
}

/**
 * Sort by name or created: an index-only scan in that order (skipping the tags seen since the filter's day) finds the
 * page's tags, then only those are read from the table: a deep page skips index entries, not table rows.
 */
async function tagsByColumn(db: Executor, name: string, query: TagQuery, seen: RawBuilder<unknown> | undefined, count: RawBuilder<unknown>): Promise<TagOrderRow[]> {
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
async function recentlySeen(db: Executor, name: string, query: TagQuery): Promise<TagOrderRow[] | undefined> {
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
async function tagsByUsage(db: Executor, name: string, query: TagQuery, seen: RawBuilder<unknown> | undefined, count: RawBuilder<unknown>): Promise<TagOrderRow[]> {
  const asc = query.order === 'asc';
  const since = query.unseenSince;
  let keyed: Expression<unknown>;
  let keyedPart: RawBuilder<unknown>;
  let keyedOrder: RawBuilder<unknown>;
  let keyedUnseen = sql``;
  if (query.sort === 'pulls') {
    keyed = tagPullWindows(db, name, query.today);
    // Tags not pulled sort as (0, 0): after the pulled ones descending, before them ascending (a negative sum, which
    // only a hand edit could leave, goes to the other side).
    keyedPart = asc ? sql`case when (k.pulls30, k.pulls7) < (0, 0) then 0 else 2 end` : sql`case when (k.pulls30, k.pulls7) > (0, 0) then 0 else 2 end`;
    keyedOrder = asc ? sql`k.pulls30 asc, k.pulls7 asc, k.position` : sql`k.pulls30 desc, k.pulls7 desc, k.position`;
    if (seen) keyedUnseen = sql`and k.tag not in (select tag from seen)`;
  } else {
    keyed = lastSeenDays(db, name);
    // Never seen is the oldest: first ascending, last descending.
    keyedPart = asc ? sql`2` : sql`0`;
    keyedOrder = asc ? sql`k.day asc, k.position` : sql`k.day desc, k.position`;
    if (since !== undefined) keyedUnseen = sql`and k.day < ${since}::date`;
  }
  // A tag never seen passes the filter: with last seen, no other tag is left in the rest.
  const restUnseen = seen && query.sort === 'pulls' ? sql`and t.tag not in (select tag from seen)` : sql``;
  const end = query.offset + query.limit;
  // Joined to the repository's tags: pulls and checks of tags no longer in the registry have no place in the order.
  // The NOT IN reads the keyed tags through a GROUP BY, guessed at 200 rows, so it is always hashed: keyed's own
  // estimate, from a join the planner cannot see through, can be far too high for a hashed NOT IN
  // (docs/performance.md, Estimates).
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

export async function readTag(db: Executor, name: string, tag: string, today: string): Promise<TagRow | undefined> {
  const row = await db
    .selectFrom('registry_tags as t')
    .leftJoin('registry_manifests as m', 'm.digest', 't.digest')
    .select((eb) => ['t.tag', 't.digest', 'm.media_type', 'm.kind', 'm.size', 't.created', eb.ref('m.platforms').$castTo<PlatformSummary[] | null>().as('platforms')])
    .where('t.repository', '=', name)
    .where('t.tag', '=', tag)
    .executeTakeFirst();
  if (!row) return undefined;
  const [usage] = await readTagUsage(db, name, today, [tag]);
  return tagRow(row, usageOf(usage));
}
