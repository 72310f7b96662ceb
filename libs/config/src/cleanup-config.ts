// Cleanup by use settings: the policy browse's /cleanup page plans with, the pace of deletes, and the CLI's flags.
import { z } from 'zod';
import { loadMigrateConfig, parseCommandLine } from './command-config.js';
import type { LogLevel } from './common-config.js';
import { booleanFlag, ConfigError, parse, parseOptional, positiveInt, read, redisUrl, type Env } from './env.js';
import { loadRegistryAccess, type RegistryAccessConfig } from './registry-config.js';
import { loadSessionWindowMs } from './worker-config.js';

export interface CleanupConfig {
  /** STATICREG_CLEANUP_POLICY: the policy file; unset, browse's /cleanup page says cleanup is not configured. */
  policyFile: string | undefined;
  /** STATICREG_CLEANUP_DELETE_INTERVAL_MS: the pause between two deletes (default 1000). */
  deleteIntervalMs: number;
  /**
   * STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN (default false): with STATICREG_BROWSE_AUTH=none anyone who reaches
   * browse is an admin, so the page only shows the plan unless this says deleting that way is intended.
   */
  allowApplyWithoutSignIn: boolean;
  /** STATICREG_RETENTION_DAYS, when set: the plan warns when a use window reaches before the counts kept. */
  retentionDays: number | undefined;
  /** A waiting pull job older than this stops apply: the worker's session window plus a minute for a batch. */
  pullBacklogMaxWaitMs: number;
}

const interval = z.coerce.number({ message: 'must be a whole number of milliseconds' }).int('must be a whole number of milliseconds').min(0, 'must be 0 or more');

export function loadCleanupConfig(env: Env = process.env): CleanupConfig {
  return {
    policyFile: read(env, 'STATICREG_CLEANUP_POLICY')?.trim(),
    deleteIntervalMs: parse(env, 'STATICREG_CLEANUP_DELETE_INTERVAL_MS', interval, '1000'),
    allowApplyWithoutSignIn: parse(env, 'STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN', booleanFlag, 'false'),
    retentionDays: parseOptional(env, 'STATICREG_RETENTION_DAYS', positiveInt),
    pullBacklogMaxWaitMs: loadSessionWindowMs(env) + 60_000,
  };
}

export const CLEANUP_APPLY_USAGE =
  'usage: cleanup-apply [--policy FILE] [--yes]\n' +
  '  recomputes the plan under the policy (default STATICREG_CLEANUP_POLICY) and deletes it from the registry;\n' +
  '  without --yes it prints the plan and refuses';

/** `make cleanup-apply`: the plan's policy, the confirmation, and what apply needs (Postgres, the registry). */
export interface CleanupApplyCliConfig {
  dbUrl: string;
  logLevel: LogLevel;
  registry: RegistryAccessConfig;
  policyFile: string;
  confirmed: boolean;
  deleteIntervalMs: number;
  /** STATICREG_RETENTION_DAYS, when set (the plan's short-history warning). */
  retentionDays: number | undefined;
  /** STATICREG_REDIS_URL: apply reads the pull queue's backlog there before each delete. */
  redisUrl: string;
  /** A waiting pull job older than this stops apply: the worker's session window plus a minute for a batch. */
  pullBacklogMaxWaitMs: number;
}

export function loadCleanupApplyConfig(argv: readonly string[], env: Env = process.env): CleanupApplyCliConfig {
  // --apply is accepted so `cleanup-plan --apply --yes` and this command read the same.
  const values = parseCommandLine(argv, { policy: { type: 'string' }, yes: { type: 'boolean' }, apply: { type: 'boolean' } }, CLEANUP_APPLY_USAGE);
  const cleanup = loadCleanupConfig(env);
  const policyFile = (typeof values.policy === 'string' ? values.policy.trim() : '') || cleanup.policyFile;
  if (!policyFile) throw new ConfigError('--policy', `is required (or STATICREG_CLEANUP_POLICY)\n${CLEANUP_APPLY_USAGE}`);
  const registry = loadRegistryAccess(env);
  if (!registry) throw new ConfigError('STATICREG_REGISTRY_HOSTNAME', 'is required: apply deletes through the registry API');
  const { dbUrl, logLevel } = loadMigrateConfig(env);
  return {
    dbUrl, logLevel, registry, policyFile, confirmed: values.yes === true, deleteIntervalMs: cleanup.deleteIntervalMs,
    retentionDays: cleanup.retentionDays,
    redisUrl: parse(env, 'STATICREG_REDIS_URL', redisUrl, 'redis://127.0.0.1:6379'),
    pullBacklogMaxWaitMs: cleanup.pullBacklogMaxWaitMs,
  };
}
