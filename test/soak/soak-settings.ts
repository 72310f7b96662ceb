// The soak's knobs, read from STATICREG_SOAK_* (test settings, not the product's configuration).
import { COUNT_POLICIES, type CountPolicy } from '@staticreg/config';

export interface SoakSettings {
  eventsPerSender: number;
  /** How long the database stays read-only; 0 skips that phase. */
  readOnlySeconds: number;
  policies: CountPolicy[];
  seed: number;
}

function wholeNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}=${JSON.stringify(raw)}: must be a whole number from ${min} to ${max}`);
  return value;
}

export function loadSoakSettings(): SoakSettings {
  const rawPolicies = process.env.STATICREG_SOAK_POLICIES?.trim() || 'sessions';
  const policies = rawPolicies.split(',').map((policy) => policy.trim());
  for (const policy of policies) {
    if (!(COUNT_POLICIES as readonly string[]).includes(policy)) {
      throw new Error(`STATICREG_SOAK_POLICIES=${JSON.stringify(rawPolicies)}: each must be one of ${COUNT_POLICIES.join(', ')}`);
    }
  }
  return {
    // Client addresses are 10.<sender>.<i/256>.<i%256>: unique up to 65,536 events per sender.
    eventsPerSender: wholeNumber('STATICREG_SOAK_EVENTS_PER_SENDER', 15_000, 100, 65_536),
    readOnlySeconds: wholeNumber('STATICREG_SOAK_READONLY_SECONDS', 180, 0, 3600),
    policies: policies as CountPolicy[],
    seed: wholeNumber('STATICREG_SOAK_SEED', 1, 0, 2 ** 31),
  };
}
