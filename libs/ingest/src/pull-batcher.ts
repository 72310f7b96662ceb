// Collects items from concurrent callers and hands them to one flush at a time, by size or by age.

export interface BatcherOptions<T> {
  /** Flush as soon as this many items are pending. */
  maxSize: number;
  /** Flush at the latest this long after the first pending item arrived. */
  maxWaitMs: number;
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
 * so a BullMQ job stays active (its lock renewed) until its batch is committed. Flushes never overlap.
 */
export class Batcher<T> {
  private pending: Pending<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: BatcherOptions<T>) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.options.maxSize) this.flushNow();
      else this.timer ??= setTimeout(() => this.flushNow(), this.options.maxWaitMs);
    });
  }

  get size(): number {
    return this.pending.length;
  }

  /** Flushes whatever is pending and waits for every flush under way. */
  async drain(): Promise<void> {
    this.flushNow();
    await this.flushing;
  }

  private flushNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(async () => {
      try {
        const failures = (await this.options.flush(batch.map((entry) => entry.item))) ?? new Map<number, unknown>();
        batch.forEach((entry, index) => (failures.has(index) ? entry.reject(failures.get(index)) : entry.resolve()));
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    });
  }
}
