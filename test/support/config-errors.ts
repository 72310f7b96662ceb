// The ConfigError a configuration loader throws, for tests that check what it names.
import { ConfigError } from '@staticreg/config';

export function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
