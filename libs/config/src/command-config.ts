// The settings of the one-off commands: `make migrate` and `make replay-failed` (its command-line options).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { utcDayOf } from '@staticreg/events';
import { LOG_LEVELS, loadCommon, type LogLevel } from './common-config.js';
import { ConfigError, parse, positiveInt, postgresUrl, type Env } from './env.js';

/** For `make migrate`: the database URL is required there. */
export function loadMigrateConfig(env: Env = process.env): { dbUrl: string; logLevel: LogLevel } {
  return {
    dbUrl: parse(env, 'STATICREG_DB_URL', postgresUrl),
    logLevel: parse(env, 'STATICREG_LOG_LEVEL', z.enum(LOG_LEVELS), 'info'),
  };
}

/** `make replay-failed`: which failed pull jobs to put back, from the command line. */
export interface ReplayFailedConfig {
  redisUrl: string;
  logLevel: LogLevel;
  failedSince: Date | undefined;
  failedUntil: Date | undefined;
  /** Substring (any case) or exact match of the job's failed reason. */
  reason: { text: string; match: 'substring' | 'exact' } | undefined;
  limit: number | undefined;
  dryRun: boolean;
}

export const REPLAY_FAILED_USAGE =
  'usage: replay-failed [--since TIME] [--until TIME] [--reason TEXT | --reason-exact TEXT] [--limit N] [--dry-run]\n' +
  '  TIME is a UTC date (2026-12-01) or an ISO 8601 time with its zone (2026-12-01T08:00Z, 2026-12-01T09:00+01:00)';

/** A date (midnight UTC, from 1970 on) or a time with an explicit zone: a time without one would depend on the machine's zone. */
const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/, 'must be a UTC date (2026-12-01) or an ISO 8601 time with its zone (2026-12-01T08:00Z)')
  .transform((value, ctx) => {
    // Date rolls 2026-02-30 over to March; a calendar date that does not exist is a typo.
    const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
    const day = value.slice(0, 10);
    if (Number.isNaN(date.getTime()) || utcDayOf(Date.parse(`${day}T00:00:00Z`)) !== day) {
      ctx.addIssue({ code: 'custom', message: 'is not a real date and time' });
      return z.NEVER;
    }
    if (date.getTime() < 0) {
      ctx.addIssue({ code: 'custom', message: 'must be from 1970 on' });
      return z.NEVER;
    }
    return date;
  });

function parseOption<T extends z.ZodType>(name: string, schema: T, raw: string | undefined): z.output<T> | undefined {
  if (raw === undefined) return undefined;
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(`--${name}`, `=${JSON.stringify(raw)}: ${result.error.issues[0]?.message ?? 'is invalid'}`);
  return result.data;
}

/**
 * A command's options by node's parseArgs (strict, no positionals): an unknown option or a missing value is a
 * ConfigError naming the option, followed by the command's usage.
 */
export function parseCommandLine(argv: readonly string[], options: ParseArgsConfig['options'], usage: string): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    // node's messages name the option ("Unknown option '--foo'"); the usage says what is accepted.
    const message = error instanceof Error ? error.message : String(error);
    const option = /'(-[^' <]*)/.exec(message)?.[1] ?? 'arguments';
    throw new ConfigError(option, `is not accepted (${message})\n${usage}`);
  }
}

/** Parses the command's arguments (an unknown option or a missing value is an error naming it) and the Redis URL. */
export function loadReplayFailedConfig(argv: readonly string[], env: Env = process.env): ReplayFailedConfig {
  const values = parseCommandLine(
    argv,
    {
      since: { type: 'string' },
      until: { type: 'string' },
      reason: { type: 'string' },
      'reason-exact': { type: 'string' },
      limit: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    REPLAY_FAILED_USAGE,
  );
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const failedSince = parseOption('since', instant, text('since'));
  const failedUntil = parseOption('until', instant, text('until'));
  if (failedSince && failedUntil && failedSince > failedUntil) throw new ConfigError('--until', `=${JSON.stringify(text('until'))}: must not be before --since`);
  const substring = parseOption('reason', z.string().min(1, 'must not be empty'), text('reason'));
  const exact = parseOption('reason-exact', z.string().min(1, 'must not be empty'), text('reason-exact'));
  if (substring !== undefined && exact !== undefined) throw new ConfigError('--reason-exact', 'cannot be used together with --reason');
  return {
    redisUrl: loadCommon(env).redisUrl,
    logLevel: loadCommon(env).logLevel,
    failedSince,
    failedUntil,
    reason: exact !== undefined ? { text: exact, match: 'exact' } : substring !== undefined ? { text: substring, match: 'substring' } : undefined,
    limit: parseOption('limit', positiveInt, text('limit')),
    dryRun: values['dry-run'] === true,
  };
}
