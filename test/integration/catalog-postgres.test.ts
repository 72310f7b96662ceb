// The Postgres catalog store: the same contract as the in-memory one, plus pulls, checks and last seen from the
// worker's tables, the "not pulled or checked in N days" filter, and the crawl-pass lease between replicas.
import { expect } from 'chai';
import { sql, type KyselyPlugin, type QueryResult, type UnknownRow } from 'kysely';
import { describeImage, describeIndex, MemoryCatalogStore, parseImageConfig, PostgresCatalogStore, type CatalogStore, type ImageDetails, type TagQuery } from '@staticreg/catalog';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

const sha = (n: number): string => `sha256:${String(n).padStart(64, '0')}`;

function image(n: number, created?: string, architecture = 'amd64'): ImageDetails {
  const json = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(n + 500), size: 10 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(n + 900), size: n }],
  };
  const config = parseImageConfig({ architecture, os: 'linux', ...(created ? { created } : {}), config: { Labels: { n: String(n) } } }, json.config);
  return describeImage(sha(n), json.mediaType, JSON.stringify(json), json, config);
}

const TODAY = '2026-06-30';
const query = (overrides: Partial<TagQuery> = {}): TagQuery => ({ sort: 'name', order: 'asc', offset: 0, limit: 50, today: TODAY, ...overrides });

async function fill(store: CatalogStore): Promise<void> {
  await store.syncRepositoryNames(['lib', 'lib/a', 'lib/b/c', 'lib/b/d', 'zed', 'team/web', 'webapp', 'old/cobweb'], 1_000);
  const amd = image(11, '2026-01-01T00:00:00Z');
  const arm = image(12, '2026-01-02T00:00:00Z', 'arm64');
  const indexJson = {
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { digest: sha(11), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { digest: sha(12), size: 1, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  };
  const index = describeIndex(sha(20), indexJson.mediaType, JSON.stringify(indexJson), indexJson, [amd, arm]);
  await store.saveRepository(
    'lib/b/c',
    [['1.10', sha(1)], ['1.9', sha(2)], ['latest', sha(20)], ['nodate', sha(4)]],
    [image(1, '2026-03-01T00:00:00Z'), image(2, '2026-02-01T00:00:00Z'), index, image(4)],
    2_000,
  );
  await store.saveRepository('lib', [['x', sha(1)]], [], 2_000);
}

function contract(name: string, make: () => Promise<CatalogStore>): void {
  describe(`${name}: the catalog store contract`, () => {
    let store: CatalogStore;
    beforeEach(async () => {
      store = await make();
      await fill(store);
    });

    it('lists the tree by path segment with counts below each path', async () => {
      const root = await store.listFolder('', 0, 10);
      expect(root.entries.map((entry) => [entry.path, entry.isRepository, entry.repositoriesBelow, entry.tags])).to.deep.equal([
        ['lib', true, 3, 5],
        ['old', false, 1, 0],
        ['team', false, 1, 0],
        ['webapp', true, 0, 0],
        ['zed', true, 0, 0],
      ]);
      const lib = await store.listFolder('lib', 1, 10);
      expect([lib.isRepository, lib.total, lib.entries.map((entry) => [entry.path, entry.repositoriesBelow, entry.tags])]).to.deep.equal([true, 2, [['lib/b', 2, 4]]]);
    });

    it('searches: exact, then prefix or segment prefix, then anywhere', async () => {
      const found = await store.search('Web', 0, 10);
      expect([found.total, found.repositories.map((repository) => repository.name)]).to.deep.equal([3, ['team/web', 'webapp', 'old/cobweb']]);
      expect((await store.search('web', 2, 10)).repositories.map((repository) => repository.name)).to.deep.equal(['old/cobweb']);
    });

    it('sorts tags by name with numbers in order, and by created with undated last', async () => {
      const names = async (overrides: Partial<TagQuery>) => (await store.listTags('lib/b/c', query(overrides)))!.tags.map((row) => row.tag);
      expect(await names({})).to.deep.equal(['1.9', '1.10', 'latest', 'nodate']);
      expect(await names({ order: 'desc' })).to.deep.equal(['nodate', 'latest', '1.10', '1.9']);
      expect(await names({ sort: 'created', order: 'desc' })).to.deep.equal(['1.10', '1.9', 'latest', 'nodate']);
      expect(await names({ sort: 'created', order: 'asc', offset: 1, limit: 2 })).to.deep.equal(['1.9', '1.10']);
      const latest = (await store.getTag('lib/b/c', 'latest', TODAY))!;
      expect(latest.summary).to.deep.include({ kind: 'index', created: '2026-01-02T00:00:00.000Z' });
      expect(latest.summary!.platforms.map((platform) => platform.architecture)).to.deep.equal(['amd64', 'arm64']);
      const details = await store.getDetails(sha(20));
      expect(details?.kind).to.equal('index');
    });

    it('replaces tags, follows removals, and prunes manifests nothing points to (index children kept)', async () => {
      await store.saveRepository('lib/b/c', [['latest', sha(20)]], [], 3_000);
      expect((await store.listFolder('lib', 0, 10)).entries.find((entry) => entry.name === 'b')?.tags).to.equal(1);
      expect(await store.pruneManifests()).to.equal(2);
      expect(await store.knownDigests([sha(1), sha(2), sha(4), sha(11), sha(12), sha(20)])).to.deep.equal(new Set([sha(1), sha(11), sha(12), sha(20)]));
      expect(await store.syncRepositoryNames(['lib', 'zed', 'new/one'], 4_000)).to.deep.equal({ added: 1, removed: 6 });
      const root = await store.listFolder('', 0, 10);
      expect(root.entries.map((entry) => [entry.path, entry.repositoriesBelow, entry.tags])).to.deep.equal([
        ['lib', 0, 1],
        ['new', 1, 0],
        ['zed', 0, 0],
      ]);
      expect(await store.stats()).to.deep.include({ repositories: 3, tags: 1, neverRefreshed: 2, catalogListedAt: 4_000 });
      expect(await store.repositoriesForRefresh()).to.deep.equal(['new/one', 'zed', 'lib']);
    });
  });
}

describe('catalog stores', function () {
  this.timeout(60_000);
  const databases: TestDatabase[] = [];
  after(async () => {
    await Promise.all(databases.map((database) => database.drop()));
  });
  async function postgresStore(owner = 'test'): Promise<{ store: PostgresCatalogStore; database: TestDatabase }> {
    const database = await createTestDatabase();
    databases.push(database);
    return { store: new PostgresCatalogStore(database.db, { owner }), database };
  }

  contract('memory', async () => new MemoryCatalogStore({ maxTags: 1000 }));
  contract('postgres', async () => (await postgresStore()).store);

  describe('postgres: pulls, checks and last seen', () => {
    let store: PostgresCatalogStore;
    let database: TestDatabase;
    before(async () => {
      ({ store, database } = await postgresStore());
      await fill(store);
      const pulls: Array<[string, string, number]> = [
        ['2026-06-30', '1.10', 5],
        ['2026-06-20', '1.10', 7],
        ['2026-06-24', 'latest', 1],
        ['2026-04-01', 'nodate', 3],
      ];
      const checks: Array<[string, string, number]> = [
        // checked every day, pulled long ago: not unused
        ['2026-06-29', 'nodate', 40],
        ['2026-05-01', '1.9', 2],
      ];
      for (const [day, tag, count] of pulls) {
        await sql`insert into container_pull_metrics (pull_date, repo_name, tag, digest, architecture, pull_count) values (${day}, 'lib/b/c', ${tag}, 'sha256:x', 'amd64', ${count})`.execute(database.db);
      }
      for (const [day, tag, count] of checks) {
        await sql`insert into container_pull_checks (pull_date, repo_name, tag, digest, architecture, check_count) values (${day}, 'lib/b/c', ${tag}, 'sha256:x', 'amd64', ${count})`.execute(database.db);
      }
      // Another repository's pulls of a tag with the same name count for nothing here.
      await sql`insert into container_pull_metrics (pull_date, repo_name, tag, digest, architecture, pull_count) values ('2026-06-30', 'lib', '1.9', 'sha256:x', 'amd64', 99)`.execute(database.db);
    });

    it('counts pulls and checks in 7 and 30 days, last pulled, last checked and last seen per tag', async () => {
      const page = (await store.listTags('lib/b/c', query()))!;
      expect(page.tags.map((row) => [row.tag, row.usage])).to.deep.equal([
        ['1.9', { pulls7: 0, pulls30: 0, checks7: 0, checks30: 0, lastChecked: '2026-05-01', lastSeen: '2026-05-01' }],
        ['1.10', { pulls7: 5, pulls30: 12, checks7: 0, checks30: 0, lastPulled: '2026-06-30', lastSeen: '2026-06-30' }],
        ['latest', { pulls7: 1, pulls30: 1, checks7: 0, checks30: 0, lastPulled: '2026-06-24', lastSeen: '2026-06-24' }],
        ['nodate', { pulls7: 0, pulls30: 0, checks7: 40, checks30: 40, lastPulled: '2026-04-01', lastChecked: '2026-06-29', lastSeen: '2026-06-29' }],
      ]);
      expect((await store.getTag('lib/b/c', 'nodate', TODAY))!.usage).to.deep.include({ checks7: 40, lastSeen: '2026-06-29' });
    });

    it('sorts by pulls and by last seen (never seen first when ascending)', async () => {
      const names = async (overrides: Partial<TagQuery>) => (await store.listTags('lib/b/c', query(overrides)))!.tags.map((row) => row.tag);
      expect(await names({ sort: 'pulls', order: 'desc' })).to.deep.equal(['1.10', 'latest', '1.9', 'nodate']);
      expect(await names({ sort: 'last-seen', order: 'asc' })).to.deep.equal(['1.9', 'latest', 'nodate', '1.10']);
    });

    it('finds tags neither pulled nor checked since a day: a daily-checked image is not among them', async () => {
      const unseen = (await store.listTags('lib/b/c', query({ unseenSince: '2026-06-25' })))!;
      expect([unseen.total, unseen.tags.map((row) => row.tag)]).to.deep.equal([2, ['1.9', 'latest']]);
      const older = (await store.listTags('lib/b/c', query({ unseenSince: '2026-05-02', sort: 'last-seen', order: 'asc' })))!;
      expect(older.tags.map((row) => row.tag)).to.deep.equal(['1.9']);
    });
  });

  it('postgres: a search page and its total come from one state of the catalog, whatever commits between its statements', async () => {
    const { store: writer, database } = await postgresStore();
    await writer.syncRepositoryNames(['team/a', 'team/b', 'zed'], 1_000);
    // After the search's first statement (the rank counts), another replica's sync commits a name that sorts first.
    let synced = false;
    const syncAfterCount: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args): Promise<QueryResult<UnknownRow>> => {
        if (!synced && args.result.rows[0] && 'exact' in args.result.rows[0]) {
          synced = true;
          await writer.syncRepositoryNames(['team/0', 'team/a', 'team/b', 'zed'], 2_000);
        }
        return args.result;
      },
    };
    const reader = new PostgresCatalogStore(database.db.withPlugin(syncAfterCount), { owner: 'reader' });
    const found = await reader.search('team', 0, 10);
    expect(synced).to.equal(true);
    expect([found.total, found.repositories.map((repository) => repository.name)]).to.deep.equal([2, ['team/a', 'team/b']]);
    const after = await reader.search('team', 0, 10);
    expect([after.total, after.repositories.map((repository) => repository.name)]).to.deep.equal([3, ['team/0', 'team/a', 'team/b']]);
  });

  it('postgres: its own writes show in the stats at once, though the stats are cached', async () => {
    const { store } = await postgresStore();
    expect(await store.stats()).to.include({ repositories: 0 });
    // The first listing: a page right after it must not see the cached "never listed" (it would answer 503).
    await store.syncRepositoryNames(['a', 'b'], 1_000);
    expect(await store.stats()).to.include({ repositories: 2, catalogListedAt: 1_000 });
    await store.saveRepository('a', [['1', sha(1)]], [image(1, '2026-01-01T00:00:00Z')], 2_000);
    expect(await store.stats()).to.include({ tags: 1, manifests: 1 });
    await store.removeRepository('b');
    expect(await store.stats()).to.include({ repositories: 1 });
  });

  it('postgres: one replica at a time holds the crawl-pass lease', async () => {
    const { store: first, database } = await postgresStore('replica-a');
    const second = new PostgresCatalogStore(database.db, { owner: 'replica-b' });
    expect(await first.holdPassLease(60_000)).to.equal(true);
    expect(await second.holdPassLease(60_000)).to.equal(false);
    expect(await first.holdPassLease(60_000)).to.equal(true);
    await first.releasePassLease();
    expect(await second.holdPassLease(60_000)).to.equal(true);
    expect(await first.holdPassLease(60_000)).to.equal(false);
  });
});
