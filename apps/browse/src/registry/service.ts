// What the registry pages and their API show, as plain data: read from the catalog store, never waiting for a crawl.
import {
  describeManifest,
  folderOf,
  searchOf,
  summarize,
  type CatalogStats,
  type CatalogStore,
  type CrawlerStatus,
  type FolderListing,
  type ManifestDetails,
  type ManifestReader,
  type ManifestSummary,
  type RepositoryInfo,
  type TagRow,
  type TagUsage,
} from '@staticreg/catalog';
import { firstDayOfLast, utcDayOf } from '@staticreg/events';
import { HttpError, orUnavailable, UnavailableError } from '@staticreg/http';
import { RegistryError } from '@staticreg/registry';
import { mayPull, type RepositoryAccess } from '../auth/viewer.js';
import { shortDigest } from './format.js';
import { FOLDER_PAGE_SIZE, SEARCH_PAGE_SIZE, TAG_PAGE_SIZE, type TagListParams } from './params.js';

export interface RegistryBrowserDeps {
  store: CatalogStore;
  /** Reads manifests the store has no details of (tag page); undefined when no registry is configured. */
  live: ManifestReader | undefined;
  crawlerStatus: () => CrawlerStatus | undefined;
  /** host[:port] in pull commands. */
  pullHost: string;
  now?: () => number;
}

export interface CatalogState extends CatalogStats {
  crawler: CrawlerStatus | undefined;
  /** The crawler's last error is newer than its last success: the registry is failing now. */
  registryFailing: boolean;
  registryError?: string;
}

export interface TagView {
  tag: string;
  digest: string;
  shortDigest: string;
  pullCommand: string;
  mediaType?: string;
  kind?: 'image' | 'index';
  created?: string;
  size?: number;
  platforms: ManifestSummary['platforms'];
  usage?: TagUsage;
}

export interface RepositoryView {
  repository: RepositoryInfo;
  usageAvailable: boolean;
  params: TagListParams;
  pageSize: number;
  total: number;
  tags: TagView[];
  /** The first day counted as "seen" by the unseen filter, when it is on. */
  unseenSince?: string;
}

export interface TagDetailView {
  repository: RepositoryInfo;
  tag: TagView;
  usageAvailable: boolean;
  manifest: ManifestDetails;
}

/**
 * Browse was started without STATICREG_REGISTRY_HOSTNAME and holds no catalog: nothing to show until the variable is set
 * and browse restarted. 501: this process lacks what the request needs, and no retry changes that (503 and its
 * Retry-After stay for a registry or database that is down for now); no-store, so no cache keeps it past the fix.
 */
export class RegistryNotConfiguredError extends HttpError {
  constructor() {
    super(
      501,
      'no registry is configured: set STATICREG_REGISTRY_HOSTNAME to the registry to read (host:port or an https:// URL) and restart browse; the dashboard at /dashboard works without it',
      { 'Cache-Control': 'no-store' },
    );
    this.name = 'RegistryNotConfiguredError';
  }
}

/** A manifest read that failed: 404 when the registry says it is gone, else the registry is unavailable for now. */
function registryReadError(error: unknown): HttpError {
  if (error instanceof RegistryError && error.kind === 'not-found') return new HttpError(404, error.message);
  const message = error instanceof Error ? error.message : String(error);
  return new UnavailableError(`the registry could not be read: ${message}`, { retryAfterSeconds: 10, cause: error });
}

export class RegistryBrowser {
  private readonly now: () => number;

  constructor(private readonly deps: RegistryBrowserDeps) {
    this.now = deps.now ?? Date.now;
  }

  get usageAvailable(): boolean {
    return this.deps.store.hasUsage;
  }

  nowMs(): number {
    return this.now();
  }

  /**
   * The catalog's state as this viewer may see it. Someone limited to some repositories gets counts over those only,
   * no crawl progress (its totals count every repository) and no registry error text (it may name other repositories).
   */
  async state(access: RepositoryAccess): Promise<CatalogState> {
    const state = await this.fullState();
    if (access.kind === 'all') return state;
    const visible = await this.deps.store.repositoriesNamed([...access.names]);
    return {
      repositories: visible.length,
      tags: visible.reduce((sum, repository) => sum + repository.tagCount, 0),
      manifests: 0,
      ...(state.catalogListedAt !== undefined ? { catalogListedAt: state.catalogListedAt } : {}),
      neverRefreshed: visible.filter((repository) => repository.refreshedAt === undefined).length,
      truncated: false,
      crawler: undefined,
      registryFailing: state.registryFailing,
      ...(state.registryFailing ? { registryError: 'see the registry or browse logs' } : {}),
    };
  }

  private async fullState(): Promise<CatalogState> {
    const stats = await this.deps.store.stats();
    const crawler = this.deps.crawlerStatus();
    const failing = crawler?.lastError !== undefined && (crawler.lastSuccessAt === undefined || crawler.lastError.at > crawler.lastSuccessAt);
    return {
      ...stats,
      crawler,
      registryFailing: failing,
      ...(failing ? { registryError: crawler!.lastError!.message } : {}),
    };
  }

  /**
   * A store that has never listed the catalog knows nothing yet: 503 (retry shortly) rather than an empty page or a
   * false 404, and the crawler's error when the registry is what fails.
   */
  private async requireCatalog(): Promise<CatalogState> {
    const state = await this.fullState();
    if (state.catalogListedAt === undefined && state.repositories === 0) {
      if (!this.deps.live) throw new RegistryNotConfiguredError();
      const reason = state.registryFailing ? `the registry could not be read: ${state.registryError}` : 'the registry catalog is being read for the first time';
      throw new UnavailableError(reason, { retryAfterSeconds: 5 });
    }
    return state;
  }

  async folder(path: string, page: number, access: RepositoryAccess): Promise<{ listing: FolderListing; state: CatalogState; page: number; pageSize: number }> {
    await this.requireCatalog();
    const state = await this.state(access);
    const offset = (page - 1) * FOLDER_PAGE_SIZE;
    const listing =
      access.kind === 'all'
        ? await this.deps.store.listFolder(path, offset, FOLDER_PAGE_SIZE)
        : folderOf(await this.deps.store.repositoriesNamed([...access.names]), path, offset, FOLDER_PAGE_SIZE);
    if (path !== '' && listing.total === 0 && !listing.isRepository) throw new HttpError(404, `nothing in the registry under ${path}/`);
    return { listing, state, page, pageSize: FOLDER_PAGE_SIZE };
  }

  async search(query: string, page: number, access: RepositoryAccess, limit = SEARCH_PAGE_SIZE): Promise<{ total: number; repositories: RepositoryInfo[]; page: number; pageSize: number }> {
    await this.requireCatalog();
    const offset = (page - 1) * limit;
    const found =
      access.kind === 'all'
        ? await this.deps.store.search(query, offset, limit)
        : searchOf(await this.deps.store.repositoriesNamed([...access.names]), query, offset, limit);
    return { ...found, page, pageSize: limit };
  }

  pullCommand(repository: string, tag: string): string {
    return `docker pull ${this.deps.pullHost}/${repository}:${tag}`;
  }

  private tagView(repository: string, row: TagRow): TagView {
    const summary = row.summary;
    return {
      tag: row.tag,
      digest: row.digest,
      shortDigest: shortDigest(row.digest),
      pullCommand: this.pullCommand(repository, row.tag),
      ...(summary ? { mediaType: summary.mediaType, kind: summary.kind, size: summary.size } : {}),
      ...(summary?.created ? { created: summary.created } : {}),
      platforms: summary?.platforms ?? [],
      ...(row.usage ? { usage: row.usage } : {}),
    };
  }

  /** A repository this viewer may not pull gets the answer of a missing one: existence does not leak. */
  private async repositoryOrNotFound(name: string, access: RepositoryAccess): Promise<RepositoryInfo> {
    await this.requireCatalog();
    const repository = mayPull(access, name) ? await this.deps.store.getRepository(name) : undefined;
    if (!repository) throw new HttpError(404, `no repository named ${name} in the registry`);
    return repository;
  }

  async repository(name: string, params: TagListParams, access: RepositoryAccess): Promise<RepositoryView> {
    await this.repositoryOrNotFound(name, access);
    const today = utcDayOf(this.now());
    const unseenSince = params.unseenDays === undefined ? undefined : firstDayOfLast(params.unseenDays, today);
    const page = await this.deps.store.listTags(name, {
      sort: params.sort,
      order: params.order,
      offset: (params.page - 1) * TAG_PAGE_SIZE,
      limit: TAG_PAGE_SIZE,
      today,
      ...(unseenSince ? { unseenSince } : {}),
    });
    if (!page) throw new HttpError(404, `no repository named ${name} in the registry`);
    return {
      repository: page.repository,
      usageAvailable: this.usageAvailable,
      params,
      pageSize: TAG_PAGE_SIZE,
      total: page.total,
      tags: page.tags.map((row) => this.tagView(name, row)),
      ...(unseenSince ? { unseenSince } : {}),
    };
  }

  async tag(name: string, tag: string, access: RepositoryAccess): Promise<TagDetailView> {
    const repository = await this.repositoryOrNotFound(name, access);
    const row = await this.deps.store.getTag(name, tag, utcDayOf(this.now()));
    if (!row) throw new HttpError(404, `no tag ${tag} in ${name}`);
    let manifest = await this.deps.store.getDetails(row.digest);
    if (!manifest) {
      // Details are kept for a bounded number of manifests; the others are read now, once, and kept.
      if (!this.deps.live) throw new RegistryNotConfiguredError();
      const live = this.deps.live;
      manifest = await orUnavailable(async () => describeManifest(live, name, await live.getManifest(name, row.digest)), registryReadError);
      await this.deps.store.putDetails(manifest);
    }
    const summary = row.summary ?? summarize(manifest);
    return { repository, tag: this.tagView(name, { ...row, summary }), usageAvailable: this.usageAvailable, manifest };
  }
}
