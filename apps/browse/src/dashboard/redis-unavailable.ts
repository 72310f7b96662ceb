// The pipeline panels and the replay button read Redis: a failure there is Redis being unavailable (503), with why.
import { UnavailableError } from '@staticreg/http';

export function redisUnavailable(error: unknown): UnavailableError {
  return new UnavailableError(`Redis unavailable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
