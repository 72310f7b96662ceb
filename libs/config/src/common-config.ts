// What every process reads: log level, Redis, bind address, metrics token, and the database URL where one is used.
import { z } from 'zod';
import { loadToken, parse, parseOptional, postgresUrl, redisUrl, type Env } from './env.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface CommonConfig {
  logLevel: LogLevel;
  redisUrl: string;
  bind: string;
  /** When set, GET /metrics answers 401 without `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
}

export function loadCommon(env: Env): CommonConfig {
  return {
    logLevel: parse(env, 'STATICREG_LOG_LEVEL', z.enum(LOG_LEVELS), 'info'),
    redisUrl: parse(env, 'STATICREG_REDIS_URL', redisUrl, 'redis://127.0.0.1:6379'),
    bind: parse(env, 'STATICREG_BIND', z.string().min(1), '0.0.0.0'),
    metricsToken: loadToken(env, 'STATICREG_METRICS_TOKEN'),
  };
}

/** The Redis stream of registry pushes and deletes (receiver writes, browse replicas read). */
export const REGISTRY_CHANGES_STREAM = 'staticreg:registry-changes';

export function loadDbUrl(env: Env): string | undefined {
  return parseOptional(env, 'STATICREG_DB_URL', postgresUrl);
}
