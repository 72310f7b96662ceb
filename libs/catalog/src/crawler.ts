// Keeps the catalog store in step with the registry: passes over every repository, least recently read first,
// plus immediate refreshes of repositories a push or delete notification names. Pages never wait for it.
import type { Logger } from 'pino';
import { RegistryError, type FetchedManifest, type RegistryClient } from '@staticreg/registry';
import { describeManifest } from './describe.js';
import { forEachConcurrently, Semaphore, systemClock, type Clock } from './limits.js';
import type { ImageDetails, ManifestDetails } from './model.js';
import type { CatalogStore } from './store.js';

export type CrawlerRegistry = Pick<RegistryClient, 'repositories' | 'listTags' | 'getManifest' | 'getBlob'>;

export interface CrawlerOptions {
  registry: CrawlerRegistry;
  store: CatalogStore;
  log: Logger;
  /** Requests in flight at most. */
  concurrency: number;
  /** Pause between the end of a pass and the start of the next. */
  intervalMs: number;
  clock?: Clock;
  /** Whether this replica runs the periodic passes now (a lease shared through Postgres); default: always. */
  mayRunPass?: () => Promise<boolean>;
}

export interface CrawlerStatus {
  state: 'starting' | 'listing' | 'refreshing' | 'waiting' | 'stopped';
  passStartedAt?: number;
  lastPassFinishedAt?: number;
  /** Repositories of the current pass, and how many are done. */
  passTotal: number;
  passDone: number;
  refreshed: number;
  /** Refreshes asked for by notifications, done or waiting. */
  notified: number;
  lastError?: { message: string; at: number; repository?: string };
  /** Last time the registry answered a listing or a refresh fully. */
  lastSuccessAt?: number;
}

/** How often a pass renews its lease (the lease itself lasts longer: see PASS_LEASE_MS in the browse setup). */
const LEASE_RENEW_MS = 30_000;
/** Clocks of Redis (which stamps changes) and of browse hosts may differ this much. */
const CLOCK_SKEW_MS = 1000;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Crawler {
  private readonly registry: CrawlerRegistry;
  private readonly store: CatalogStore;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly inFlight: Semaphore;
  private readonly urgent = new Map<string, number | undefined>();
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;
  private wake: (() => void) | undefined;
  private wakeUrgent: (() => void) | undefined;
  private loops: Promise<void>[] = [];
  readonly status: CrawlerStatus = { state: 'starting', passTotal: 0, passDone: 0, refreshed: 0, notified: 0 };

  constructor(private readonly options: CrawlerOptions) {
    this.registry = options.registry;
    this.store = options.store;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    this.inFlight = new Semaphore(Math.max(1, options.concurrency));
  }

  start(): void {
    this.loops = [this.passLoop(), this.urgentLoop()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.status.state = 'stopped';
    this.wake?.();
    this.wakeUrgent?.();
    await Promise.all(this.loops);
    await Promise.all(this.running.values());
  }

  /**
   * Refreshes a repository as soon as possible (a push or delete was notified). `changedAt` lets replicas sharing
   * a store skip the work when the repository was refreshed after the change already.
   */
  refreshSoon(repository: string, changedAt?: number): void {
    this.status.notified += 1;
    const previous = this.urgent.get(repository);
    this.urgent.set(repository, previous === undefined || changedAt === undefined ? changedAt : Math.max(previous, changedAt));
    this.wakeUrgent?.();
  }

  private async sleep(ms: number, setWake: (wake: () => void) => void): Promise<void> {
    await new Promise<void>((resolve) => {
      setWake(resolve);
      void this.clock.sleep(ms).then(resolve);
    });
  }

  private async passLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.options.mayRunPass || (await this.options.mayRunPass())) await this.runPass();
      } catch (error) {
        this.status.lastError = { message: message(error), at: this.clock.now() };
        this.log.warn({ err: error }, 'Registry crawl pass failed');
      }
      if (this.stopped) break;
      this.status.state = 'waiting';
      await this.sleep(this.options.intervalMs, (wake) => (this.wake = wake));
    }
  }

  private async urgentLoop(): Promise<void> {
    while (!this.stopped) {
      const next = this.urgent.entries().next();
      if (next.done) {
        await this.sleep(60_000, (wake) => (this.wakeUrgent = wake));
        continue;
      }
      const [repository, changedAt] = next.value;
      this.urgent.delete(repository);
      if (changedAt !== undefined) {
        // Another replica sharing the store may have read it since: a refresh that started after the change saw it.
        const info = await this.store.getRepository(repository).catch(() => undefined);
        if (info?.refreshedAt !== undefined && info.refreshedAt > changedAt + CLOCK_SKEW_MS) continue;
      }
      await this.refresh(repository, 'notification');
    }
  }

  /** One pass: list the catalog, then refresh every repository, least recently read first. */
  async runPass(): Promise<void> {
    const started = this.clock.now();
    this.status.state = 'listing';
    this.status.passStartedAt = started;
    const names: string[] = [];
    for await (const page of this.registry.repositories()) {
      names.push(...page);
      if (this.stopped) return;
    }
    this.status.lastSuccessAt = this.clock.now();
    const { added, removed } = await this.store.syncRepositoryNames(names, this.clock.now());
    const order = await this.store.repositoriesForRefresh();
    this.status.state = 'refreshing';
    this.status.passTotal = order.length;
    this.status.passDone = 0;
    this.log.info({ repositories: names.length, added, removed }, 'Registry catalog listed');
    let lostLease = false;
    let leaseCheckedAt = this.clock.now();
    await forEachConcurrently(order, this.options.concurrency, async (repository) => {
      if (this.stopped || lostLease) return;
      // A long pass keeps renewing the lease it started with; losing it (a long stall) hands the pass over.
      if (this.options.mayRunPass && this.clock.now() - leaseCheckedAt > LEASE_RENEW_MS) {
        leaseCheckedAt = this.clock.now();
        lostLease = !(await this.options.mayRunPass());
        if (lostLease) return;
      }
      await this.refresh(repository, 'pass');
      this.status.passDone += 1;
    });
    if (this.stopped || lostLease) return;
    const pruned = await this.store.pruneManifests();
    this.status.lastPassFinishedAt = this.clock.now();
    this.log.info({ repositories: order.length, pruned, seconds: (this.clock.now() - started) / 1000 }, 'Registry crawl pass finished');
  }

  /** Refreshes one repository; a refresh already running for it is awaited, then it runs again. */
  async refresh(repository: string, reason: 'pass' | 'notification' = 'pass'): Promise<void> {
    const current = this.running.get(repository);
    if (current) await current;
    const work = this.refreshNow(repository, reason).finally(() => {
      if (this.running.get(repository) === work) this.running.delete(repository);
    });
    this.running.set(repository, work);
    await work;
  }

  private async refreshNow(repository: string, reason: string): Promise<void> {
    // The refresh time recorded is its start: a change after it may be missed by this read, and must not be skipped.
    const startedAt = this.clock.now();
    try {
      let tags: string[];
      try {
        tags = await this.inFlight.use(() => this.registry.listTags(repository));
      } catch (error) {
        if (error instanceof RegistryError && error.kind === 'not-found') {
          await this.store.removeRepository(repository);
          this.log.info({ repository, reason }, 'Repository gone from the registry');
          return;
        }
        throw error;
      }
      const fetched = new Map<string, FetchedManifest>();
      await forEachConcurrently(tags, this.options.concurrency, async (tag) => {
        try {
          fetched.set(tag, await this.inFlight.use(() => this.registry.getManifest(repository, tag)));
        } catch (error) {
          // Deleted between the tag list and now: simply not there.
          if (!(error instanceof RegistryError && error.kind === 'not-found')) throw error;
        }
      });
      const digests = [...new Set([...fetched.values()].map((manifest) => manifest.digest))];
      const known = await this.store.knownDigests(digests);
      const described = new Map<string, ManifestDetails>();
      const children = new Map<string, ImageDetails>();
      const unknown = new Map([...fetched.values()].filter((manifest) => !known.has(manifest.digest)).map((manifest) => [manifest.digest, manifest]));
      await forEachConcurrently([...unknown.values()], this.options.concurrency, async (manifest) => {
        const details = await describeManifest(this.readerFor(), repository, manifest, (digest) => children.get(digest));
        described.set(manifest.digest, details);
        if (details.kind === 'index') for (const image of details.images) children.set(image.digest, image);
      });
      const pairs = tags.filter((tag) => fetched.has(tag)).map((tag) => [tag, fetched.get(tag)!.digest] as const);
      await this.store.saveRepository(repository, pairs, [...described.values()], startedAt);
      this.status.refreshed += 1;
      this.status.lastSuccessAt = this.clock.now();
    } catch (error) {
      const text = message(error);
      this.status.lastError = { message: text, at: this.clock.now(), repository };
      this.log.warn({ err: error, repository, reason }, 'Could not refresh a repository');
      await this.store.markRepositoryError(repository, text, this.clock.now()).catch(() => undefined);
    }
  }

  /** The registry with every request held to the in-flight limit. */
  private readerFor(): Pick<RegistryClient, 'getManifest' | 'getBlob'> {
    return {
      getManifest: (repository, reference) => this.inFlight.use(() => this.registry.getManifest(repository, reference)),
      getBlob: (repository, digest, maxBytes) => this.inFlight.use(() => this.registry.getBlob(repository, digest, maxBytes)),
    };
  }
}
