// Sessions and sign-in counters live in Redis: when it does not answer, 503 (retry shortly), not a 500.
import { orUnavailable, UnavailableError } from '@staticreg/http';

export async function orRedisUnavailable<T>(work: () => Promise<T>): Promise<T> {
  return orUnavailable(
    work,
    (cause) =>
      new UnavailableError('sign-in is unavailable: its session store (Redis) does not answer, retry shortly', {
        retryAfterSeconds: 5,
        headers: { 'Cache-Control': 'no-store' },
        cause,
      }),
  );
}
