import { expect } from 'chai';
import { MemoryCatalogStore } from './memory-store.js';
import type { TagQuery } from './store.js';
import { image, sha } from '../../../test/support/catalog-images.js';

const query = (overrides: Partial<TagQuery> = {}): TagQuery => ({ sort: 'name', order: 'asc', offset: 0, limit: 50, today: '2026-06-01', ...overrides });

describe('in-memory catalog store', () => {
  it('lists the repository tree by path segment, with repositories and tags below each folder', async () => {
    const store = new MemoryCatalogStore({ maxTags: 1000 });
    await store.syncRepositoryNames(['lib/a', 'lib/b/c', 'lib/b/d', 'lib', 'zed'], 1);
    await store.saveRepository('lib/b/c', [['1', sha(1)], ['2', sha(1)]], [image(1)], 2);
    await store.saveRepository('lib', [['x', sha(1)]], [], 2);
    const root = await store.listFolder('', 0, 10);
    expect(root.entries).to.deep.equal([
      { name: 'lib', path: 'lib', isRepository: true, repositoriesBelow: 3, tags: 3 },
      { name: 'zed', path: 'zed', isRepository: true, repositoriesBelow: 0, tags: 0 },
    ]);
    const lib = await store.listFolder('lib', 0, 10);
    expect(lib.isRepository).to.equal(true);
    expect(lib.total).to.equal(2);
    expect(lib.entries.map((entry) => [entry.path, entry.isRepository, entry.repositoriesBelow, entry.tags])).to.deep.equal([
      ['lib/a', true, 0, 0],
      ['lib/b', false, 2, 2],
    ]);
    expect((await store.listFolder('lib', 1, 1)).entries.map((entry) => entry.name)).to.deep.equal(['b']);
    expect((await store.listFolder('nope', 0, 10)).total).to.equal(0);
  });

  it('removes repositories gone from the catalog, and their empty folders', async () => {
    const store = new MemoryCatalogStore({ maxTags: 1000 });
    await store.syncRepositoryNames(['a/b/c', 'a/x'], 1);
    await store.saveRepository('a/b/c', [['1', sha(1)]], [image(1)], 2);
    expect(await store.syncRepositoryNames(['a/x', 'new'], 3)).to.deep.equal({ added: 1, removed: 1 });
    expect((await store.listFolder('a', 0, 10)).entries.map((entry) => entry.name)).to.deep.equal(['x']);
    expect(await store.stats()).to.include({ repositories: 2, tags: 0, catalogListedAt: 3, neverRefreshed: 2 });
    expect(await store.pruneManifests()).to.equal(1);
  });

  it('searches names case-insensitively: exact, then prefix or segment prefix, then anywhere', async () => {
    const store = new MemoryCatalogStore({ maxTags: 1000 });
    await store.syncRepositoryNames(['team/web', 'web', 'webapp', 'old/cobweb', 'api'], 1);
    const found = await store.search('WEB', 0, 10);
    expect([found.total, found.repositories.map((repository) => repository.name)]).to.deep.equal([4, ['web', 'team/web', 'webapp', 'old/cobweb']]);
    expect((await store.search('web', 1, 2)).repositories.map((repository) => repository.name)).to.deep.equal(['team/web', 'webapp']);
    expect((await store.search('  ', 0, 10)).total).to.equal(0);
  });

  it('sorts tags by name (numbers in order) and by created (undated last), both ways', async () => {
    const store = new MemoryCatalogStore({ maxTags: 1000 });
    await store.syncRepositoryNames(['app'], 1);
    await store.saveRepository('app', [['1.10', sha(1)], ['1.9', sha(2)], ['latest', sha(3)], ['nodate', sha(4)]], [image(1, '2026-01-01T00:00:00Z'), image(2, '2025-01-01T00:00:00Z'), image(3, '2026-03-01T00:00:00Z'), image(4)], 2);
    const names = async (overrides: Partial<TagQuery>) => (await store.listTags('app', query(overrides)))!.tags.map((row) => row.tag);
    expect(await names({})).to.deep.equal(['1.9', '1.10', 'latest', 'nodate']);
    expect(await names({ order: 'desc' })).to.deep.equal(['nodate', 'latest', '1.10', '1.9']);
    expect(await names({ sort: 'created', order: 'desc' })).to.deep.equal(['latest', '1.10', '1.9', 'nodate']);
    expect(await names({ sort: 'created', order: 'asc' })).to.deep.equal(['1.9', '1.10', 'latest', 'nodate']);
    expect(await names({ offset: 1, limit: 2 })).to.deep.equal(['1.10', 'latest']);
    const row = await store.getTag('app', 'latest');
    expect([row?.digest, row?.summary?.created, row?.summary?.size]).to.deep.equal([sha(3), '2026-03-01T00:00:00.000Z', 13]);
    expect(await store.listTags('missing', query())).to.equal(undefined);
  });

  it('holds at most maxTags tags and says so', async () => {
    const store = new MemoryCatalogStore({ maxTags: 3 });
    await store.syncRepositoryNames(['a', 'b'], 1);
    await store.saveRepository('a', [['x', sha(1)], ['y', sha(1)]], [image(1)], 2);
    await store.saveRepository('b', [['3', sha(1)], ['1', sha(1)], ['2', sha(1)]], [], 2);
    const b = (await store.listTags('b', query()))!;
    expect([b.total, b.tags.map((row) => row.tag), b.repository.truncated]).to.deep.equal([1, ['1'], true]);
    expect(await store.stats()).to.include({ tags: 3, truncated: true });
    // Replacing a repository's tags frees its old ones first.
    await store.saveRepository('a', [['x', sha(1)]], [], 3);
    await store.saveRepository('b', [['1', sha(1)], ['2', sha(1)]], [], 3);
    expect((await store.getRepository('b'))).to.deep.include({ tagCount: 2 });
    expect((await store.getRepository('b'))?.truncated).to.equal(undefined);
  });

  it('keeps full details in a bounded LRU', async () => {
    const store = new MemoryCatalogStore({ maxTags: 100, maxDetails: 2 });
    await store.putDetails(image(1));
    await store.putDetails(image(2));
    await store.getDetails(sha(1));
    await store.putDetails(image(3));
    expect([Boolean(await store.getDetails(sha(1))), Boolean(await store.getDetails(sha(2))), Boolean(await store.getDetails(sha(3)))]).to.deep.equal([true, false, true]);
  });
});
