// The workers' counting pause as the dashboard sees it: one Redis key, refreshed while paused, gone once counting resumes.
import type { Redis } from 'ioredis';

export const COUNTING_PAUSE_KEY = 'staticreg:pipeline:counting-pause';

export interface PublishedCountingPause {
  /** When the pause started (ISO 8601). */
  since: string;
  sqlstate: string | null;
  message: string;
  cause: string;
  /** Which worker process saw it (host and pid). */
  worker: string;
}

/**
 * Any paused worker refreshes the key; it expires by itself if that worker dies. With several workers the last
 * writer's reason is shown, and a worker that resumes deletes it; another one still paused writes it again
 * at its next retry.
 */
export async function publishCountingPause(redis: Redis, pause: PublishedCountingPause, ttlSeconds: number): Promise<void> {
  await redis.set(COUNTING_PAUSE_KEY, JSON.stringify(pause), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
}

export async function clearCountingPause(redis: Redis): Promise<void> {
  await redis.del(COUNTING_PAUSE_KEY);
}

export async function readCountingPause(redis: Redis): Promise<PublishedCountingPause | null> {
  const value = await redis.get(COUNTING_PAUSE_KEY);
  if (value === null) return null;
  try {
    return JSON.parse(value) as PublishedCountingPause;
  } catch {
    return null;
  }
}
