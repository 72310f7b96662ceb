// The Postgres catalog's search and tag pages against the in-memory catalog on the same data, page by page: search
// ranks and their boundaries, every sort in both directions, the unseen filter, and offsets up to and past the end.
// Pull-based orders (which the memory store has not) against a plain model of the same pull and check rows.
import { expect } from 'chai';
import { sql } from 'kysely';
import { addDays } from '@staticreg/events';
import { MemoryCatalogStore, PostgresCatalogStore, type ImageDetails, type TagQuery, type TagSort } from '@staticreg/catalog';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { captureStatements } from '../support/captured-statements.js';
import { image, sha } from '../support/catalog-images.js';

const TODAY = '2026-06-30';
const REPOSITORY = 'big/one';


/** Names for every search rank and for pages that cross from one rank to the next, in mixed case. */
function repositoryNames(): string[] {
  const names = ['web', 'Web', 'webapp', 'team/web', 'Team/WEB', 'team/web-ui', 'old/cobweb', 'a/b/web', 'x/webby', 'cobweb', 'my_app', 'myxapp', 'my-app'];
  for (let i = 0; i < 260; i += 1) names.push(`org-${i % 7}/team-${i % 5}/svc-${i}`);
  names.push(REPOSITORY);
  return names;
}

/**
 * 130 tags: versions whose order needs numbers read as numbers, names equal but for case or leading zeros, tags sharing
 * a created time, undated images, and tags whose manifest was never described.
 */
function tagList(): Array<[string, string]> {
  const tags: Array<[string, string]> = [];
  for (let minor = 0; minor < 12; minor += 1) for (const patch of [0, 1, 2, 10]) tags.push([`1.${minor}.${patch}`, sha(1 + ((minor + patch) % 6))]);
  for (let i = 0; i < 60; i += 1) tags.push([`build-${i}`, sha(1 + (i % 8))]);
  for (const tag of ['latest', 'Latest', 'LATEST', 'v2', 'V2', 'v10', '1', '01', '001', 'rc-1', 'rc_1', 'rc.1', 'a', 'b-1', 'zeta', 'alpha'])
    tags.push([tag, sha(1 + (tag.length % 8))]);
  tags.push(['undescribed-1', sha(77)], ['undescribed-2', sha(78)]);
  return tags;
}

/** Manifests 1..8: four share one created time, two have none. */
const manifests = (): ImageDetails[] => [
  image(1, '2026-01-01T00:00:00Z'),
  image(2, '2026-01-01T00:00:00Z'),
  image(3, '2026-03-05T10:00:00Z'),
  image(4, '2026-01-01T00:00:00Z'),
  image(5),
  image(6, '2025-12-31T23:59:59.500Z'),
  image(7, '2026-01-01T00:00:00Z'),
  image(8),
];

interface UsageRow {
  table: 'container_pull_metrics' | 'container_pull_checks';
  day: string;
  tag: string;
  count: number;
}

const dayBefore = (days: number): string => addDays(TODAY, -days);

/** Pulls and checks over 60 days for about half the tags, a zero row, a negative one, and a deleted tag's pulls. */
function usageRows(tags: readonly string[]): UsageRow[] {
  const rows: UsageRow[] = [];
  tags.forEach((tag, i) => {
    if (i % 3 === 0) for (const days of [i % 40, (i * 7) % 60]) rows.push({ table: 'container_pull_metrics', day: dayBefore(days), tag, count: 1 + (i % 4) });
    if (i % 5 === 0) rows.push({ table: 'container_pull_checks', day: dayBefore((i * 3) % 50), tag, count: 2 });
  });
  rows.push({ table: 'container_pull_metrics', day: dayBefore(1), tag: 'zeta', count: 0 });
  rows.push({ table: 'container_pull_checks', day: dayBefore(2), tag: 'zeta', count: 0 });
  rows.push({ table: 'container_pull_metrics', day: dayBefore(3), tag: 'b-1', count: -2 });
  rows.push({ table: 'container_pull_metrics', day: dayBefore(1), tag: 'deleted-tag', count: 50 });
  return rows;
}

/** What the pull-based orders must give, from the rows themselves; name order is the memory store's. */
function expectedOrder(nameOrder: readonly string[], rows: readonly UsageRow[], query: TagQuery): string[] {
  const key = new Map(nameOrder.map((tag) => [tag, { pulls7: 0, pulls30: 0, lastSeen: undefined as string | undefined }]));
  for (const row of rows) {
    const entry = key.get(row.tag);
    if (!entry) continue;
    if (row.table === 'container_pull_metrics') {
      if (row.day >= dayBefore(29)) entry.pulls30 += row.count;
      if (row.day >= dayBefore(6)) entry.pulls7 += row.count;
    }
    if (row.count > 0 && (entry.lastSeen === undefined || row.day > entry.lastSeen)) entry.lastSeen = row.day;
  }
  const position = new Map(nameOrder.map((tag, i) => [tag, i]));
  const direction = query.order === 'asc' ? 1 : -1;
  let tags = [...nameOrder];
  if (query.unseenSince) tags = tags.filter((tag) => (key.get(tag)!.lastSeen ?? '') < query.unseenSince!);
  const byName = (a: string, b: string): number => position.get(a)! - position.get(b)!;
  tags.sort((a, b) => {
    const x = key.get(a)!;
    const y = key.get(b)!;
    if (query.sort === 'pulls') return direction * (x.pulls30 - y.pulls30 || x.pulls7 - y.pulls7) || byName(a, b);
    if (query.sort === 'last-seen') {
      if (x.lastSeen === y.lastSeen) return byName(a, b);
      // Never seen is the oldest.
      return direction * ((x.lastSeen ?? '') < (y.lastSeen ?? '') ? -1 : 1);
    }
    return direction * byName(a, b);
  });
  return tags;
}

describe('Postgres catalog order and pages equal the in-memory catalog', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let postgres: PostgresCatalogStore;
  const memory = new MemoryCatalogStore({ maxTags: 10_000 });
  const tags = tagList();
  const usage = usageRows(tags.map(([tag]) => tag));

  before(async () => {
    database = await createTestDatabase();
    postgres = new PostgresCatalogStore(database.db, { owner: 'test' });
    for (const store of [memory, postgres]) {
      await store.syncRepositoryNames(repositoryNames(), 1_000);
      await store.saveRepository(REPOSITORY, tags, manifests(), 2_000);
      await store.saveRepository('team/web', [['1.0', sha(1)]], [], 2_000);
    }
    for (const [i, row] of usage.entries()) {
      const count = row.table === 'container_pull_metrics' ? sql`pull_count` : sql`check_count`;
      await sql`insert into ${sql.table(row.table)} (pull_date, repo_name, tag, digest, architecture, ${count})
        values (${row.day}, ${REPOSITORY}, ${row.tag}, 'sha256:x', ${`arch-${i}`}, ${row.count})`.execute(database.db);
    }
    // The same tag names pulled in another repository count for nothing here.
    await sql`insert into container_pull_metrics (pull_date, repo_name, tag, digest, architecture, pull_count)
      values (${TODAY}, 'team/web', 'build-7', 'sha256:x', 'amd64', 1000)`.execute(database.db);
  });
  after(async () => {
    await database?.drop();
  });

  it('searches with the same totals, ranks and pages, across rank boundaries and past the end', async () => {
    const needles = ['web', ' WEB ', 'team', 'team/web', 'svc-1', 'svc-10', 'e', 'y_a', 'y%a', '-', '/', 'org-3/team', 'eb', 'nothing-matches'];
    let compared = 0;
    for (const needle of needles) {
      const { total } = await memory.search(needle, 0, 1);
      for (const limit of [1, 3, 8, 50]) {
        for (const offset of [0, 1, 2, 5, 11, 49, 100, Math.max(0, total - 2), total, total + 3]) {
          const [expected, actual] = await Promise.all([memory.search(needle, offset, limit), postgres.search(needle, offset, limit)]);
          expect([actual.total, actual.repositories.map((repository) => repository.name)], `${needle} ${offset}+${limit}`).to.deep.equal([
            expected.total,
            expected.repositories.map((repository) => repository.name),
          ]);
          compared += actual.repositories.length;
        }
      }
    }
    expect(compared).to.be.greaterThan(2_000);
    // LIKE's wildcards in the text are plain characters.
    expect((await postgres.search('y_a', 0, 10)).repositories.map((repository) => repository.name)).to.deep.equal(['my_app']);
  });

  it('lists tags by name and by created, both ways, page by page, as the memory store does', async () => {
    const total = tags.length;
    for (const sort of ['name', 'created'] as const) {
      for (const order of ['asc', 'desc'] as const) {
        for (const [offset, limit] of [[0, 50], [50, 50], [100, 50], [7, 13], [total - 1, 50], [total, 50], [total + 10, 50], [0, total]]) {
          const query: TagQuery = { sort, order, offset: offset!, limit: limit!, today: TODAY };
          const [expected, actual] = await Promise.all([memory.listTags(REPOSITORY, query), postgres.listTags(REPOSITORY, query)]);
          const label = `${sort} ${order} ${offset}+${limit}`;
          expect(actual!.total, label).to.equal(expected!.total);
          expect(actual!.tags.map((row) => [row.tag, row.digest, row.summary?.created]), label).to.deep.equal(
            expected!.tags.map((row) => [row.tag, row.digest, row.summary?.created]),
          );
        }
      }
    }
  });

  it('sorts by pulls and by last seen, and filters unseen tags, as the pull and check rows say', async () => {
    const nameOrder = (await memory.listTags(REPOSITORY, { sort: 'name', order: 'asc', offset: 0, limit: 1000, today: TODAY }))!.tags.map((row) => row.tag);
    const sorts: TagSort[] = ['pulls', 'last-seen', 'name', 'created'];
    let compared = 0;
    for (const sort of sorts) {
      for (const order of ['asc', 'desc'] as const) {
        for (const unseenSince of [undefined, dayBefore(6), dayBefore(29), dayBefore(45), dayBefore(3650)]) {
          const all = { sort, order, offset: 0, limit: 1000, today: TODAY, ...(unseenSince ? { unseenSince } : {}) };
          // Created order with the filter: the memory store's created order, less the tags seen.
          const expected =
            sort === 'created'
              ? (await memory.listTags(REPOSITORY, { ...all, sort: 'created' }))!.tags
                  .map((row) => row.tag)
                  .filter((tag) => expectedOrder(nameOrder, usage, { ...all, sort: 'name', order: 'asc' }).includes(tag))
              : expectedOrder(nameOrder, usage, all);
          for (const [offset, limit] of [[0, 50], [50, 50], [3, 17], [expected.length - 1, 50], [expected.length, 50], [expected.length + 5, 10]]) {
            const page = (await postgres.listTags(REPOSITORY, { ...all, offset: offset!, limit: limit! }))!;
            const label = `${sort} ${order} unseen since ${unseenSince} ${offset}+${limit}`;
            expect(page.total, label).to.equal(expected.length);
            expect(page.tags.map((row) => row.tag), label).to.deep.equal(expected.slice(offset!, offset! + limit!));
            compared += page.tags.length;
          }
        }
      }
    }
    expect(compared).to.be.greaterThan(3_000);
  });

  it('reads search and the name and created orders through their indexes (migration 0006)', async () => {
    // The store's own statements, captured, then planned with sorts and sequential scans priced out: on a table this
    // small the planner would read everything anyway, so this only asks whether an index can serve each statement.
    const capture = await captureStatements(database.url);
    try {
      const store = new PostgresCatalogStore(capture.db, { owner: 'test' });
      const plan = async (run: () => Promise<unknown>, pick: (sql: string) => boolean): Promise<string> => {
        capture.statements.length = 0;
        await run();
        const statement = capture.statements.find((entry) => pick(entry.sql));
        expect(statement, 'statement captured').to.not.equal(undefined);
        await capture.client.query('set enable_seqscan = off; set enable_sort = off');
        return capture.explain(statement!);
      };
      const searchPlan = await plan(() => store.search('cobweb', 0, 8), (text) => text.includes('count(*) filter'));
      expect(searchPlan).to.include('idx_registry_repositories_search_name');
      for (const [sort, order] of [['name', 'asc'], ['name', 'desc'], ['created', 'asc'], ['created', 'desc']] as const) {
        const tagPlan = await plan(
          () => store.listTags(REPOSITORY, { sort, order, offset: 0, limit: 50, today: TODAY }),
          (text) => text.includes('from registry_tags p'),
        );
        // The page's tags come from an index in the page's order; only the 50 found are read from the table.
        const index = sort === 'name' ? 'registry_tags_pkey' : `idx_registry_tags_repository_created_${order}`;
        expect(tagPlan, `${sort} ${order}`).to.match(new RegExp(`Limit[^\\n]*\\n\\s*->  Index (Only )?Scan( Backward)? using ${index} on registry_tags p`));
        expect(tagPlan, `${sort} ${order}`).to.not.match(/Sort Key: p\./);
      }
    } finally {
      await capture.close();
    }
  });
});
