// Reading one variable: the shared zod schemas, defaults for unset or empty values, errors that name the variable.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable}${problem.startsWith('=') ? '' : ' '}${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export const port = z.coerce.number({ message: 'must be a port number' }).int().min(0, 'must be a port number from 0 to 65535').max(65535, 'must be a port number from 0 to 65535');
export const positiveInt = z.coerce.number({ message: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1');

export const postgresUrl = z.string().refine(
  (value) => {
    try {
      return ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  },
  { message: 'must be a postgresql://[user[:password]@][host][:port][/dbname] URL' },
);

export const redisUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      if (!['redis:', 'rediss:'].includes(url.protocol)) return false;
      return url.pathname === '' || url.pathname === '/' || /^\/\d{1,2}$/.test(url.pathname);
    } catch {
      return false;
    }
  },
  { message: 'must be a redis://[user:password@]host[:port][/db] URL' },
);

/** "1mb", "512kb", "1048576" -> bytes. */
export const byteSize = z.string().transform((value, ctx) => {
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(value.trim());
  if (!match) {
    ctx.addIssue({ code: 'custom', message: 'must be a size such as 1048576, 512kb or 1mb' });
    return z.NEVER;
  }
  const unit = (match[2] ?? 'b').toLowerCase();
  const bytes = Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
  if (bytes < 1024) {
    ctx.addIssue({ code: 'custom', message: 'must be at least 1kb' });
    return z.NEVER;
  }
  return bytes;
});

export const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0),
);

export const booleanFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' }).transform((value) => ['true', '1', 'yes'].includes(value));

/** An unset variable and an empty one both mean "use the default". */
export function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

export function parse<T extends z.ZodType>(env: Env, name: string, schema: T, fallback?: string): z.output<T> {
  const raw = read(env, name) ?? fallback;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(name, raw === undefined ? 'is required' : `=${JSON.stringify(redact(name, raw))}: ${issue?.message ?? 'is invalid'}`);
  }
  return result.data;
}

export function redact(name: string, raw: string): string {
  if (name.endsWith('_TOKEN') || name.endsWith('_PASSWORD') || name.endsWith('_SECRET')) return '***';
  if (name.endsWith('_URL')) return raw.replace(/\/\/([^@/]*)@/, '//***@');
  // A password may itself hold '@' or '/': everything up to the last '@' goes.
  if (name.endsWith('_HOSTNAME')) return raw.replace(/^((?:[a-z][a-z0-9+.-]*:)?\/\/)?.*@/is, '$1***@');
  return raw;
}

/** A variable with no default: undefined when unset or empty, else parsed (and refused by name) as `parse` does. */
export function parseOptional<T extends z.ZodType>(env: Env, name: string, schema: T): z.output<T> | undefined {
  return read(env, name) === undefined ? undefined : parse(env, name, schema);
}

/** A file read once at start; a missing or unreadable file is a configuration error naming the variable. */
export function readConfigFile(env: Env, name: string): string | undefined {
  const path = read(env, name);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `=${JSON.stringify(path)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The shortest shared secret accepted: shorter ones are guessable; `openssl rand -hex 32` gives 64 characters. */
export const MIN_TOKEN_LENGTH = 16;
export const GENERATE_TOKEN_HINT = 'generate one with `openssl rand -hex 32`';

export function loadToken(env: Env, name: string): string | undefined {
  const token = read(env, name);
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(name, `is too short: use at least ${MIN_TOKEN_LENGTH} characters (${GENERATE_TOKEN_HINT})`);
  }
  return token;
}
