// The catalog store contract: what pages read and the crawler writes, in memory or in Postgres.
import type { ManifestDetails, ManifestSummary } from './model.js';

export interface RepositoryInfo {
  name: string;
  tagCount: number;
  /** When its tags were last read from the registry (ms); undefined: listed in the catalog, not read yet. */
  refreshedAt: number | undefined;
  /** The last refresh failed with this message (the previous tags are kept). */
  error?: string;
  /** Some tags were left out to stay within the memory bound. */
  truncated?: boolean;
}

/** One line of a folder listing: a path segment, which may be a repository, a folder, or both. */
export interface FolderEntry {
  name: string;
  path: string;
  isRepository: boolean;
  /** Repositories strictly below this path. */
  repositoriesBelow: number;
  /** Tags of the repository itself and of everything below. */
  tags: number;
}

export interface FolderListing {
  path: string;
  /** The path is itself a repository (shown as a link above the entries). */
  isRepository: boolean;
  entries: FolderEntry[];
  total: number;
}

/** Pulls and checks of one tag, from container_pull_metrics and container_pull_checks (UTC days). */
export interface TagUsage {
  pulls7: number;
  pulls30: number;
  checks7: number;
  checks30: number;
  /** YYYY-MM-DD of the last pull or check ever recorded. */
  lastPulled?: string;
  lastChecked?: string;
  /** The later of the two: the day anyone last asked for this tag. */
  lastSeen?: string;
}

export interface TagRow {
  tag: string;
  digest: string;
  /** Undefined while the manifest is not described yet. */
  summary?: ManifestSummary;
  usage?: TagUsage;
}

export const TAG_SORTS = ['name', 'created', 'pulls', 'last-seen'] as const;
export type TagSort = (typeof TAG_SORTS)[number];

export interface TagQuery {
  sort: TagSort;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
  /** Only tags not pulled or checked on or after this UTC day (YYYY-MM-DD), never-seen ones included. */
  unseenSince?: string;
  /** Today's UTC date: the 7 and 30 day windows end here. */
  today: string;
}

export interface TagPage {
  repository: RepositoryInfo;
  tags: TagRow[];
  /** Tags matching the query (before offset/limit). */
  total: number;
}

export interface CatalogStats {
  repositories: number;
  tags: number;
  manifests: number;
  /** Last time the whole catalog was listed (ms). */
  catalogListedAt?: number;
  /** The least recently refreshed repository's refresh time (ms); undefined while some were never read. */
  oldestRefreshAt?: number;
  neverRefreshed: number;
  /** The memory bound dropped tags. */
  truncated: boolean;
}

export interface CatalogStore {
  readonly kind: 'memory' | 'postgres';
  /** Whether pull and check counts are available (a database is configured). */
  readonly hasUsage: boolean;

  listFolder(path: string, offset: number, limit: number): Promise<FolderListing>;
  /** Repositories whose name contains `query` (case-insensitive): exact, then prefix, then the rest, by name. */
  search(query: string, offset: number, limit: number): Promise<{ total: number; repositories: RepositoryInfo[] }>;
  getRepository(name: string): Promise<RepositoryInfo | undefined>;
  /** These repositories, those the catalog holds (for a view limited to the names a person may pull). */
  repositoriesNamed(names: readonly string[]): Promise<RepositoryInfo[]>;
  listTags(name: string, query: TagQuery): Promise<TagPage | undefined>;
  getTag(name: string, tag: string, today: string): Promise<TagRow | undefined>;
  getDetails(digest: string): Promise<ManifestDetails | undefined>;
  /** Keeps details read on demand by a page (bounded in memory). */
  putDetails(details: ManifestDetails): Promise<void>;
  stats(): Promise<CatalogStats>;

  /** The whole catalog as just listed: new names are added (not read yet), missing ones removed. */
  syncRepositoryNames(names: readonly string[], listedAt: number): Promise<{ added: number; removed: number }>;
  /** Every repository, those never read first, then the least recently refreshed. */
  repositoriesForRefresh(): Promise<string[]>;
  /** Digests among these that are described already. */
  knownDigests(digests: readonly string[]): Promise<Set<string>>;
  /** Replaces a repository's tags; `manifests` holds the details of digests not known before. */
  saveRepository(name: string, tags: ReadonlyArray<readonly [string, string]>, manifests: readonly ManifestDetails[], refreshedAt: number): Promise<void>;
  markRepositoryError(name: string, message: string, at: number): Promise<void>;
  removeRepository(name: string): Promise<void>;
  /** Forgets manifests no tag points to any more. */
  pruneManifests(): Promise<number>;
}

/** The parent path of a repository name ('' at the top). */
export function parentPath(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash < 0 ? '' : name.slice(0, slash);
}

/**
 * The manifests a store keeps from a crawl: these, and each index's images as manifests in their own right (a tag may
 * point at one), each digest once; a manifest given itself wins over the same digest found as an index's image.
 */
export function manifestsToKeep(manifests: readonly ManifestDetails[]): ManifestDetails[] {
  const all = new Map<string, ManifestDetails>();
  for (const details of manifests) {
    all.set(details.digest, details);
    if (details.kind === 'index') for (const image of details.images) if (!all.has(image.digest)) all.set(image.digest, image);
  }
  return [...all.values()];
}

/** Search ranking shared by the stores: 0 exact, 1 prefix (of the name or of a path segment), 2 elsewhere. */
export function searchRank(name: string, query: string): number {
  const lower = name.toLowerCase();
  if (lower === query) return 0;
  if (lower.startsWith(query) || lower.includes(`/${query}`)) return 1;
  return 2;
}
