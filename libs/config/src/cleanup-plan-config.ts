// `make cleanup-plan`: the policy file and the output format from the command line, the database from the env.
import { loadMigrateConfig, parseCommandLine } from './command-config.js';
import type { LogLevel } from './common-config.js';
import { ConfigError, parseOptional, positiveInt } from './env.js';

export const CLEANUP_PLAN_FORMATS = ['table', 'json', 'csv'] as const;
export type CleanupPlanFormat = (typeof CLEANUP_PLAN_FORMATS)[number];

export interface CleanupPlanConfig {
  dbUrl: string;
  logLevel: LogLevel;
  policyFile: string;
  format: CleanupPlanFormat;
  /** STATICREG_RETENTION_DAYS, when set: the plan warns when a use window reaches before what it keeps. */
  retentionDays: number | undefined;
}

export const CLEANUP_PLAN_USAGE = 'usage: cleanup-plan --policy FILE [--format table|json|csv | --json | --csv]';

export function loadCleanupPlanConfig(argv: readonly string[], env: Record<string, string | undefined> = process.env): CleanupPlanConfig {
  const values = parseCommandLine(
    argv,
    { policy: { type: 'string' }, format: { type: 'string' }, json: { type: 'boolean' }, csv: { type: 'boolean' } },
    CLEANUP_PLAN_USAGE,
  );
  const policyFile = typeof values.policy === 'string' ? values.policy.trim() : '';
  if (policyFile === '') throw new ConfigError('--policy', `is required (the policy file, docs/cleanup.md)\n${CLEANUP_PLAN_USAGE}`);
  const chosen = [
    ...(typeof values.format === 'string' && values.format.trim() !== '' ? [values.format.trim()] : []),
    ...(values.json === true ? ['json'] : []),
    ...(values.csv === true ? ['csv'] : []),
  ];
  if (new Set(chosen).size > 1) throw new ConfigError('--format', `is given twice (${chosen.join(', ')}): choose one`);
  const format = chosen[0] ?? 'table';
  if (!(CLEANUP_PLAN_FORMATS as readonly string[]).includes(format)) throw new ConfigError('--format', `=${JSON.stringify(format)}: must be table, json or csv`);
  return { ...loadMigrateConfig(env), policyFile, format: format as CleanupPlanFormat, retentionDays: parseOptional(env, 'STATICREG_RETENTION_DAYS', positiveInt) };
}
