// Sessions and sign-in counters live in Redis: when it does not answer, 503 (retry shortly), not a 500.
import { HttpError } from '@staticreg/http';

export async function orRedisUnavailable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(503, 'sign-in is unavailable: its session store (Redis) does not answer, retry shortly', { 'Retry-After': '5', 'Cache-Control': 'no-store' });
  }
}
