// The catalog in process memory, for browse without a database: a path tree, sorted views cached per version.
import { summarize, type ManifestDetails, type ManifestSummary } from './model.js';
import { manifestsToKeep, searchRank, type CatalogStats, type CatalogStore, type FolderListing, type RepositoryInfo, type TagPage, type TagQuery, type TagRow } from './store.js';

interface RepoState {
  name: string;
  /** tag -> digest */
  tags: Map<string, string>;
  refreshedAt: number | undefined;
  error?: string;
  truncated?: boolean;
  /** Sorted tag rows by "sort:order", dropped whenever the tags change. */
  views: Map<string, TagRow[]>;
}

interface TreeNode {
  children: Map<string, TreeNode>;
  repository: RepoState | undefined;
  repositoriesBelow: number;
  /** Tags of this node's repository and of everything below. */
  tags: number;
  sortedChildren: string[] | undefined;
}

const newNode = (): TreeNode => ({ children: new Map(), repository: undefined, repositoriesBelow: 0, tags: 0, sortedChildren: undefined });

const collator = new Intl.Collator('en', { numeric: true });
/**
 * Names with numbers in order (1.9 before 1.10), case and accents apart (latest before Latest), and names ICU holds
 * equal (1 and 01) by their code units: the order of Postgres's staticreg_natural collation, so both stores agree.
 */
export const compareNames = (a: string, b: string): number => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);

export interface MemoryStoreOptions {
  /** The memory bound: at most this many tags are held; a repository that would exceed it keeps the first tags by name. */
  maxTags: number;
  /** Details (layers, history, labels, raw JSON) kept for the tag page, least recently used dropped first. */
  maxDetails?: number;
}

/**
 * Everything is kept in Maps: repositories with their tag -> digest maps, one summary per distinct manifest, and a
 * bounded LRU of full details. Memory grows with tags (about 150 bytes each, see docs/browse.md) up to `maxTags`.
 */
export class MemoryCatalogStore implements CatalogStore {
  readonly kind = 'memory' as const;
  readonly hasUsage = false;
  private readonly repos = new Map<string, RepoState>();
  private readonly root = newNode();
  private readonly manifests = new Map<string, ManifestSummary>();
  private readonly details = new Map<string, ManifestDetails>();
  private totalTags = 0;
  private truncated = false;
  private catalogListedAt: number | undefined;
  private names: { sorted: string[]; lower: string[] } | undefined;
  private readonly maxDetails: number;

  constructor(private readonly options: MemoryStoreOptions) {
    this.maxDetails = options.maxDetails ?? 500;
  }

  private node(path: string, create: boolean): TreeNode | undefined {
    let node = this.root;
    if (path === '') return node;
    for (const segment of path.split('/')) {
      let child = node.children.get(segment);
      if (!child) {
        if (!create) return undefined;
        child = newNode();
        node.children.set(segment, child);
        node.sortedChildren = undefined;
      }
      node = child;
    }
    return node;
  }

  /** Adds `repositories` and `tags` to every ancestor of `name` (and `tags` to its own node). */
  private adjust(name: string, repositories: number, tags: number): void {
    let node = this.root;
    node.repositoriesBelow += repositories;
    node.tags += tags;
    const segments = name.split('/');
    segments.forEach((segment, i) => {
      node = node.children.get(segment)!;
      if (i < segments.length - 1) node.repositoriesBelow += repositories;
      node.tags += tags;
    });
  }

  private addRepository(name: string): RepoState {
    const existing = this.repos.get(name);
    if (existing) return existing;
    const state: RepoState = { name, tags: new Map(), refreshedAt: undefined, views: new Map() };
    this.repos.set(name, state);
    this.node(name, true)!.repository = state;
    this.adjust(name, 1, 0);
    this.names = undefined;
    return state;
  }

  private info(state: RepoState): RepositoryInfo {
    return {
      name: state.name,
      tagCount: state.tags.size,
      refreshedAt: state.refreshedAt,
      ...(state.error ? { error: state.error } : {}),
      ...(state.truncated ? { truncated: true } : {}),
    };
  }

  async listFolder(path: string, offset: number, limit: number): Promise<FolderListing> {
    const node = this.node(path, false);
    if (!node) return { path, isRepository: false, entries: [], total: 0 };
    node.sortedChildren ??= [...node.children.keys()].sort(compareNames);
    const prefix = path === '' ? '' : `${path}/`;
    const entries = node.sortedChildren.slice(offset, offset + limit).map((name) => {
      const child = node.children.get(name)!;
      return { name, path: `${prefix}${name}`, isRepository: child.repository !== undefined, repositoriesBelow: child.repositoriesBelow, tags: child.tags };
    });
    return { path, isRepository: node.repository !== undefined, entries, total: node.sortedChildren.length };
  }

  async search(query: string, offset: number, limit: number): Promise<{ total: number; repositories: RepositoryInfo[] }> {
    const needle = query.trim().toLowerCase();
    if (needle === '') return { total: 0, repositories: [] };
    if (!this.names) {
      const sorted = [...this.repos.keys()].sort();
      this.names = { sorted, lower: sorted.map((name) => name.toLowerCase()) };
    }
    // Names are walked in order, so each rank's bucket is already sorted: no sort per query. A bucket keeps only as
    // many names as the page could need from it; the others are only counted.
    const wanted = offset + limit;
    const buckets: string[][] = [[], [], []];
    const counts = [0, 0, 0];
    const { sorted, lower } = this.names;
    for (let i = 0; i < sorted.length; i += 1) {
      const name = lower[i]!;
      if (!name.includes(needle)) continue;
      const rank = searchRank(name, needle);
      counts[rank]! += 1;
      if (buckets[rank]!.length < wanted) buckets[rank]!.push(sorted[i]!);
    }
    const page = buckets.flat().slice(offset, wanted);
    return { total: counts[0]! + counts[1]! + counts[2]!, repositories: page.map((name) => this.info(this.repos.get(name)!)) };
  }

  async repositoriesNamed(names: readonly string[]): Promise<RepositoryInfo[]> {
    return names.flatMap((name) => {
      const state = this.repos.get(name);
      return state ? [this.info(state)] : [];
    });
  }

  async getRepository(name: string): Promise<RepositoryInfo | undefined> {
    const state = this.repos.get(name);
    return state ? this.info(state) : undefined;
  }

  private row(tag: string, digest: string): TagRow {
    const summary = this.manifests.get(digest);
    return summary ? { tag, digest, summary } : { tag, digest };
  }

  private view(state: RepoState, sort: 'name' | 'created', order: 'asc' | 'desc'): TagRow[] {
    const key = `${sort}:${order}`;
    let rows = state.views.get(key);
    if (rows) return rows;
    rows = [...state.tags].map(([tag, digest]) => this.row(tag, digest));
    const direction = order === 'asc' ? 1 : -1;
    if (sort === 'name') rows.sort((a, b) => direction * compareNames(a.tag, b.tag));
    else {
      // Tags without a created date go last in either order.
      rows.sort((a, b) => {
        const x = a.summary?.created;
        const y = b.summary?.created;
        if (x === y) return compareNames(a.tag, b.tag);
        if (x === undefined) return 1;
        if (y === undefined) return -1;
        return direction * (x < y ? -1 : 1);
      });
    }
    state.views.set(key, rows);
    return rows;
  }

  async listTags(name: string, query: TagQuery): Promise<TagPage | undefined> {
    const state = this.repos.get(name);
    if (!state) return undefined;
    // No pull counts without a database: pull-based sorts fall back to name.
    const sort = query.sort === 'created' ? 'created' : 'name';
    const rows = this.view(state, sort, query.order);
    return { repository: this.info(state), tags: rows.slice(query.offset, query.offset + query.limit), total: rows.length };
  }

  async getTag(name: string, tag: string, _today?: string): Promise<TagRow | undefined> {
    const digest = this.repos.get(name)?.tags.get(tag);
    return digest === undefined ? undefined : this.row(tag, digest);
  }

  async getDetails(digest: string): Promise<ManifestDetails | undefined> {
    const details = this.details.get(digest);
    if (details) {
      this.details.delete(digest);
      this.details.set(digest, details);
    }
    return details;
  }

  async putDetails(details: ManifestDetails): Promise<void> {
    this.details.delete(details.digest);
    this.details.set(details.digest, details);
    while (this.details.size > this.maxDetails) this.details.delete(this.details.keys().next().value!);
    if (!this.manifests.has(details.digest)) this.manifests.set(details.digest, summarize(details));
  }

  async stats(): Promise<CatalogStats> {
    let oldest: number | undefined;
    let never = 0;
    for (const state of this.repos.values()) {
      if (state.refreshedAt === undefined) never += 1;
      else if (oldest === undefined || state.refreshedAt < oldest) oldest = state.refreshedAt;
    }
    return {
      repositories: this.repos.size,
      tags: this.totalTags,
      manifests: this.manifests.size,
      ...(this.catalogListedAt !== undefined ? { catalogListedAt: this.catalogListedAt } : {}),
      ...(never === 0 && oldest !== undefined ? { oldestRefreshAt: oldest } : {}),
      neverRefreshed: never,
      truncated: this.truncated,
    };
  }

  async syncRepositoryNames(names: readonly string[], listedAt: number): Promise<{ added: number; removed: number }> {
    const listed = new Set(names);
    let removed = 0;
    for (const name of [...this.repos.keys()]) {
      if (!listed.has(name)) {
        await this.removeRepository(name);
        removed += 1;
      }
    }
    const before = this.repos.size;
    for (const name of names) this.addRepository(name);
    this.catalogListedAt = listedAt;
    return { added: this.repos.size - before, removed };
  }

  async repositoriesForRefresh(): Promise<string[]> {
    return [...this.repos.values()]
      .sort((a, b) => (a.refreshedAt ?? -1) - (b.refreshedAt ?? -1) || (a.name < b.name ? -1 : 1))
      .map((state) => state.name);
  }

  async knownDigests(digests: readonly string[]): Promise<Set<string>> {
    return new Set(digests.filter((digest) => this.manifests.has(digest)));
  }

  async saveRepository(name: string, tags: ReadonlyArray<readonly [string, string]>, manifests: readonly ManifestDetails[], refreshedAt: number): Promise<void> {
    for (const details of manifestsToKeep(manifests)) {
      this.manifests.set(details.digest, summarize(details));
      await this.putDetails(details);
    }
    const state = this.addRepository(name);
    const room = this.options.maxTags - (this.totalTags - state.tags.size);
    let kept = tags;
    if (tags.length > room) {
      kept = [...tags].sort(([a], [b]) => compareNames(a, b)).slice(0, Math.max(0, room));
      this.truncated = true;
    }
    const next = new Map<string, string>();
    // One string object per digest, shared by every tag pointing at it.
    for (const [tag, digest] of kept) next.set(tag, this.manifests.get(digest)?.digest ?? digest);
    this.adjust(name, 0, next.size - state.tags.size);
    this.totalTags += next.size - state.tags.size;
    state.tags = next;
    state.views = new Map();
    state.refreshedAt = refreshedAt;
    delete state.error;
    if (kept.length < tags.length) state.truncated = true;
    else delete state.truncated;
  }

  async markRepositoryError(name: string, message: string, at: number): Promise<void> {
    const state = this.repos.get(name);
    if (!state) return;
    state.error = message;
    state.refreshedAt ??= at;
  }

  async removeRepository(name: string): Promise<void> {
    const state = this.repos.get(name);
    if (!state) return;
    this.adjust(name, -1, -state.tags.size);
    this.totalTags -= state.tags.size;
    this.repos.delete(name);
    this.names = undefined;
    const node = this.node(name, false)!;
    node.repository = undefined;
    // Drop the empty branch so the folder disappears with its last repository.
    const segments = name.split('/');
    for (let depth = segments.length; depth > 0; depth -= 1) {
      const path = segments.slice(0, depth).join('/');
      const current = this.node(path, false)!;
      if (current.repository || current.children.size > 0) break;
      const parent = this.node(segments.slice(0, depth - 1).join('/'), false)!;
      parent.children.delete(segments[depth - 1]!);
      parent.sortedChildren = undefined;
    }
  }

  async pruneManifests(): Promise<number> {
    const used = new Set<string>();
    for (const state of this.repos.values()) {
      for (const digest of state.tags.values()) {
        if (used.has(digest)) continue;
        used.add(digest);
        for (const platform of this.manifests.get(digest)?.platforms ?? []) used.add(platform.digest);
      }
    }
    let pruned = 0;
    for (const digest of [...this.manifests.keys()]) {
      if (used.has(digest)) continue;
      this.manifests.delete(digest);
      this.details.delete(digest);
      pruned += 1;
    }
    return pruned;
  }
}
