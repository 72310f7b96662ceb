// Folder listings and search over a given set of repositories: the catalog as one person may see it.
import { compareNames } from './memory-store.js';
import { searchRank, type FolderEntry, type FolderListing, type RepositoryInfo } from './store.js';

/** The listing of `path` built from these repositories only: counts and entries never include a name not given. */
export function folderOf(repositories: readonly RepositoryInfo[], path: string, offset: number, limit: number): FolderListing {
  const prefix = path === '' ? '' : `${path}/`;
  const children = new Map<string, FolderEntry>();
  let isRepository = false;
  for (const repository of repositories) {
    if (repository.name === path) {
      isRepository = true;
      continue;
    }
    if (!repository.name.startsWith(prefix)) continue;
    const rest = repository.name.slice(prefix.length);
    const segment = rest.split('/')[0]!;
    const childPath = `${prefix}${segment}`;
    const entry = children.get(segment) ?? { name: segment, path: childPath, isRepository: false, repositoriesBelow: 0, tags: 0 };
    if (repository.name === childPath) entry.isRepository = true;
    else entry.repositoriesBelow += 1;
    entry.tags += repository.tagCount;
    children.set(segment, entry);
  }
  const sorted = [...children.keys()].sort(compareNames);
  return { path, isRepository, total: sorted.length, entries: sorted.slice(offset, offset + limit).map((name) => children.get(name)!) };
}

/** Search as the stores rank it (exact, prefix, elsewhere; then by name), over these repositories only. */
export function searchOf(repositories: readonly RepositoryInfo[], query: string, offset: number, limit: number): { total: number; repositories: RepositoryInfo[] } {
  const needle = query.trim().toLowerCase();
  if (needle === '') return { total: 0, repositories: [] };
  const found = repositories
    .filter((repository) => repository.name.toLowerCase().includes(needle))
    .map((repository) => ({ repository, rank: searchRank(repository.name, needle) }))
    .sort((a, b) => a.rank - b.rank || (a.repository.name < b.repository.name ? -1 : a.repository.name > b.repository.name ? 1 : 0));
  return { total: found.length, repositories: found.slice(offset, offset + limit).map((match) => match.repository) };
}
