// The catalog in Postgres (migrations 0004 and 0006), shared by browse replicas: the CatalogStore contract over the
// queries in ./postgres/, each page's reads in one snapshot, the cached stats dropped on this process's writes.
import type { Kysely } from 'kysely';
import type { Database, Executor } from '@staticreg/db';
import type { ManifestDetails } from './model.js';
import type { CatalogStats, CatalogStore, FolderListing, RepositoryInfo, TagPage, TagQuery, TagRow } from './store.js';
import { holdPassLease, releasePassLease } from './postgres/lease.js';
import { insertManifests, knownDigests, pruneManifests, readDetails } from './postgres/manifests.js';
import { readRepositoriesNamed, readRepository, searchRepositories } from './postgres/search.js';
import { CachedStats } from './postgres/stats.js';
import { readTag, readTagPage } from './postgres/tags.js';
import { readFolder } from './postgres/tree.js';
import { markRepositoryError, removeRepository, repositoriesForRefresh, saveRepositoryTags, syncRepositoryNames } from './postgres/writes.js';

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
  private snapshot<T>(read: (db: Executor) => Promise<T>): Promise<T> {
    return this.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(read);
  }

  /** Runs a write of this process, then drops the cached stats (see CachedStats). */
  private async changing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.cachedStats.forget();
    }
  }

  listFolder(path: string, offset: number, limit: number): Promise<FolderListing> {
    return this.snapshot((db) => readFolder(db, path, offset, limit));
  }

  search(query: string, offset: number, limit: number): Promise<{ total: number; repositories: RepositoryInfo[] }> {
    return this.snapshot((db) => searchRepositories(db, query, offset, limit));
  }

  repositoriesNamed(names: readonly string[]): Promise<RepositoryInfo[]> {
    return readRepositoriesNamed(this.db, names);
  }

  getRepository(name: string): Promise<RepositoryInfo | undefined> {
    return readRepository(this.db, name);
  }

  listTags(name: string, query: TagQuery): Promise<TagPage | undefined> {
    return this.snapshot((db) => readTagPage(db, name, query));
  }

  getTag(name: string, tag: string, today: string): Promise<TagRow | undefined> {
    return readTag(this.db, name, tag, today);
  }

  getDetails(digest: string): Promise<ManifestDetails | undefined> {
    return readDetails(this.db, digest);
  }

  async putDetails(details: ManifestDetails): Promise<void> {
    await this.changing(() => insertManifests(this.db, [details]));
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
