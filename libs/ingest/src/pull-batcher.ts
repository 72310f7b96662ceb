// Collects items from concurrent callers and hands them to a bounded number of flushes at a time, by size or by age.

export interface BatcherOptions<T> {
  /** Flush as soon as this many items are pending. */
  maxSize: number;
  /** Flush at the latest this long after the first pending item arrived. */
  maxWaitMs: number;
  /** How many flushes may run at once (default 1); further batches wait for a free one, in the order they were cut. */
  maxFlushes?: number;
  /**
   * Called with the items of one batch. If it throws, every item's promise rejects with that error;
   * otherwise the items it names in the returned map reject with their own error and the rest resolve.
   */
  flush: (items: T[]) => Promise<Map<number, unknown> | void>;
}

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Every `add` returns a promise that settles only when the batch holding its item has been flushed,
 * so a BullMQ job stays active (its lock renewed) until its batch is committed. At most `maxFlushes`
 * flushes overlap: with two, one batch's transaction runs while the next one's jobs are fetched and stored.
 */
export class Batcher<T> {
  private pending: Pending<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Batches cut but not yet flushing, oldest first. */
  private readonly waiting: Pending<T>[][] = [];
  private running = 0;
  private idle: Array<() => void> = [];
  private readonly maxFlushes: number;

  constructor(private readonly options: BatcherOptions<T>) {
    this.maxFlushes = options.maxFlushes ?? 1;
    if (!Number.isInteger(this.maxFlushes) || this.maxFlushes < 1) throw new RangeError('maxFlushes must be a whole number of at least 1');
  }

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.options.maxSize) this.flushNow();
      else this.timer ??= setTimeout(() => this.flushNow(), this.options.maxWaitMs);
    });
  }

  /** Items not yet in a batch. */
  get size(): number {
    return this.pending.length;
  }

  /** Flushes whatever is pending and waits until no flush is under way or waiting. */
  async drain(): Promise<void> {
    this.flushNow();
    if (this.running === 0 && this.waiting.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private flushNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    this.waiting.push(this.pending);
    this.pending = [];
    this.startWaiting();
  }

  private startWaiting(): void {
    while (this.running < this.maxFlushes && this.waiting.length > 0) {
      const batch = this.waiting.shift()!;
      this.running += 1;
      void this.flushBatch(batch).then(() => {
        this.running -= 1;
        this.startWaiting();
        if (this.running === 0 && this.waiting.length === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  /** Never rejects: the outcome goes to each item's own promise. */
  private async flushBatch(batch: Pending<T>[]): Promise<void> {
    try {
      const failures = (await this.options.flush(batch.map((entry) => entry.item))) ?? new Map<number, unknown>();
      batch.forEach((entry, index) => (failures.has(index) ? entry.reject(failures.get(index)) : entry.resolve()));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}
