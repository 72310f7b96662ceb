import { expect } from 'chai';
import { MemoryCatalogStore } from './memory-store.js';
import type { RepositoryInfo } from './store.js';
import { folderOf, searchOf } from './visible.js';

const info = (name: string, tagCount: number): RepositoryInfo => ({ name, tagCount, refreshedAt: 1 });

describe('the catalog limited to the repositories a person may see', () => {
  const visible = [info('team-a/app', 3), info('team-a/tools/lint', 2), info('team-a', 1), info('base', 4)];

  it('lists folders from the given repositories only, with their counts', () => {
    expect(folderOf(visible, '', 0, 10)).to.deep.equal({
      path: '',
      isRepository: false,
      total: 2,
      entries: [
        { name: 'base', path: 'base', isRepository: true, repositoriesBelow: 0, tags: 4 },
        { name: 'team-a', path: 'team-a', isRepository: true, repositoriesBelow: 2, tags: 6 },
      ],
    });
    const teamA = folderOf(visible, 'team-a', 0, 1);
    expect(teamA).to.include({ path: 'team-a', isRepository: true, total: 2 });
    expect(teamA.entries).to.deep.equal([{ name: 'app', path: 'team-a/app', isRepository: true, repositoriesBelow: 0, tags: 3 }]);
    expect(folderOf(visible, 'team-b', 0, 10)).to.deep.equal({ path: 'team-b', isRepository: false, total: 0, entries: [] });
  });

  it('ranks search results as the stores do', async () => {
    const names = ['app', 'apps/web', 'team-a/app', 'myapp', 'other'];
    const store = new MemoryCatalogStore({ maxTags: 1000 });
    await store.syncRepositoryNames(names, 1);
    const expected = await store.search('app', 0, 10);
    const result = searchOf(await store.repositoriesNamed(names), 'app', 0, 10);
    expect(result.repositories.map((r) => r.name)).to.deep.equal(expected.repositories.map((r) => r.name));
    expect(result.total).to.equal(4);
    expect(searchOf(visible, 'zzz', 0, 10)).to.deep.equal({ total: 0, repositories: [] });
  });
});
