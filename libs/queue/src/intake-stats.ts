// Per-minute intake counts (events accepted, skipped by reason) that receivers add up in Redis for the dashboard.
import type { Redis } from 'ioredis';

const KEY_PREFIX = 'staticreg:intake:';
export const LAST_EVENT_KEY = `${KEY_PREFIX}last-event`;
/** Minutes are kept this long: the dashboard shows the last hour. */
const MINUTE_TTL_SECONDS = 3 * 3600;
const MINUTE_MS = 60_000;

export const minuteKey = (minute: number): string => `${KEY_PREFIX}minute:${minute}`;

export interface IntakeMinute {
  /** Start of the minute, ISO 8601 UTC. */
  minute: string;
  accepted: number;
  skipped: Record<string, number>;
}

/**
 * Counts in memory on the acknowledgement path (no I/O there) and adds them to Redis every few seconds, with
 * HINCRBY so that several receivers sum up. A failed flush keeps its counts for the next one.
 */
export class IntakeRecorder {
  private pending = new Map<number, Map<string, number>>();
  private lastEventAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly options: { flushMs?: number; now?: () => number } = {},
  ) {}

  /** Synchronous: called once per acknowledged envelope. */
  record(accepted: number, skippedReasons: readonly string[]): void {
    if (accepted === 0 && skippedReasons.length === 0) return;
    const now = (this.options.now ?? Date.now)();
    const minute = Math.floor(now / MINUTE_MS);
    let fields = this.pending.get(minute);
    if (!fields) this.pending.set(minute, (fields = new Map()));
    if (accepted > 0) fields.set('accepted', (fields.get('accepted') ?? 0) + accepted);
    for (const reason of skippedReasons) fields.set(`skipped:${reason}`, (fields.get(`skipped:${reason}`) ?? 0) + 1);
    this.lastEventAt = now;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush().catch(() => undefined), this.options.flushMs ?? 5000);
    this.timer.unref();
  }

  /** Adds what was counted since the last flush to Redis. */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushOnce());
    // Flushes run one after the other; a failed one has put its counts back, so the next must still run.
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushOnce(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    const last = this.lastEventAt;
    this.pending = new Map();
    const multi = this.redis.multi();
    for (const [minute, fields] of batch) {
      for (const [field, count] of fields) multi.hincrby(minuteKey(minute), field, count);
      multi.expire(minuteKey(minute), MINUTE_TTL_SECONDS);
    }
    if (last !== undefined) multi.set(LAST_EVENT_KEY, String(last));
    try {
      await multi.exec();
    } catch (error) {
      for (const [minute, fields] of batch) {
        const into = this.pending.get(minute) ?? new Map<string, number>();
        for (const [field, count] of fields) into.set(field, (into.get(field) ?? 0) + count);
        this.pending.set(minute, into);
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }
}

/** The last `minutes` minutes, oldest first, the current minute included; minutes without events are zeros. */
export async function readIntake(redis: Redis, minutes: number, now: number = Date.now()): Promise<IntakeMinute[]> {
  const current = Math.floor(now / MINUTE_MS);
  const range = Array.from({ length: minutes }, (_, i) => current - minutes + 1 + i);
  const pipeline = redis.pipeline();
  for (const minute of range) pipeline.hgetall(minuteKey(minute));
  const replies = (await pipeline.exec()) ?? [];
  return range.map((minute, i) => {
    const [error, value] = replies[i] ?? [null, {}];
    if (error) throw error;
    const fields = (value ?? {}) as Record<string, string>;
    const skipped: Record<string, number> = {};
    for (const [field, count] of Object.entries(fields)) if (field.startsWith('skipped:')) skipped[field.slice(8)] = Number(count);
    return { minute: new Date(minute * MINUTE_MS).toISOString(), accepted: Number(fields.accepted ?? 0), skipped };
  });
}

/** When a receiver last acknowledged an event (ISO 8601), or null if none has within the keys' lifetime. */
export async function lastEventReceivedAt(redis: Redis): Promise<string | null> {
  const value = await redis.get(LAST_EVENT_KEY);
  return value === null ? null : new Date(Number(value)).toISOString();
}
