// Pipeline health for the dashboard: queue depth and age, intake per minute, failed jobs, Redis and Postgres status.
import express, { type Request, type Response, type Router } from 'express';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { pingDatabase, type Database } from '@staticreg/db';
import { FILTERED_REASONS, INVALID_REASONS } from '@staticreg/events';
import { orUnavailable, UnavailableError, withTimeout } from '@staticreg/http';
import {
  lastEventReceivedAt,
  oldestWaitingJobTime,
  queueCounts,
  readCountingPause,
  readIntake,
  recentFailedJobs,
  type PublishedCountingPause,
  type FailedJob,
  type IntakeMinute,
  type PullJobData,
  type QueueState,
} from '@staticreg/queue';
import { toCsv, type CsvColumn } from '@staticreg/csv';
import { ParameterError } from './params.js';
import { redisUnavailable } from './redis-unavailable.js';

export const SKIP_REASONS: readonly string[] = [...FILTERED_REASONS, ...INVALID_REASONS];
const PROBE_TIMEOUT_MS = 1000;

export interface PipelineDeps {
  db: Kysely<Database> | undefined;
  queue: Queue<PullJobData> | undefined;
  redis: Redis | undefined;
  now?: () => Date;
}

export interface DependencyStatus {
  /** 'ok', 'not configured', or what went wrong. */
  status: string;
  latencyMs: number | null;
}

export interface PipelineHealth {
  generatedAt: string;
  redis: DependencyStatus;
  postgres: DependencyStatus;
  /** Null when Redis does not answer. */
  queue: Record<QueueState, number> | null;
  oldestWaitingAgeSeconds: number | null;
  lastEventReceivedAt: string | null;
  /** Accepted and skipped events of the last hour, for the totals beside the chart. */
  lastHour: { accepted: number; skipped: Record<string, number> } | null;
  /** Why the workers stopped counting (a systemic error; events wait in Redis), null while they count or Redis does not answer. */
  countingPause: PublishedCountingPause | null;
}

async function probe(run: (() => Promise<unknown>) | undefined): Promise<DependencyStatus> {
  if (!run) return { status: 'not configured', latencyMs: null };
  const started = performance.now();
  try {
    await withTimeout(run(), PROBE_TIMEOUT_MS, 'probe');
    return { status: 'ok', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    return { status: error instanceof Error ? error.message : String(error), latencyMs: null };
  }
}

/** Collects everything at once; a part whose store is down is null, the rest still answers. */
export async function readPipelineHealth(deps: PipelineDeps): Promise<PipelineHealth> {
  const now = deps.now?.() ?? new Date();
  const { redis, queue, db } = deps;
  const [redisStatus, postgres] = await Promise.all([
    probe(redis ? () => redis.ping() : undefined),
    probe(db ? () => pingDatabase(db) : undefined),
  ]);
  const fromRedis = async <T>(read: () => Promise<T>): Promise<T | null> => {
    if (redisStatus.status !== 'ok') return null;
    try {
      return await withTimeout(read(), PROBE_TIMEOUT_MS, 'redis read');
    } catch {
      return null;
    }
  };
  const [counts, oldest, lastEvent, intake, countingPause] = await Promise.all([
    queue ? fromRedis(() => queueCounts(queue)) : null,
    queue ? fromRedis(() => oldestWaitingJobTime(queue)) : null,
    redis ? fromRedis(() => lastEventReceivedAt(redis)) : null,
    redis ? fromRedis(() => readIntake(redis, 60, now.getTime())) : null,
    redis ? fromRedis(() => readCountingPause(redis)) : null,
  ]);
  let lastHour: PipelineHealth['lastHour'] = null;
  if (intake) {
    lastHour = { accepted: 0, skipped: {} };
    for (const minute of intake) {
      lastHour.accepted += minute.accepted;
      for (const [reason, count] of Object.entries(minute.skipped)) lastHour.skipped[reason] = (lastHour.skipped[reason] ?? 0) + count;
    }
  }
  return {
    generatedAt: now.toISOString(),
    redis: redisStatus,
    postgres,
    queue: counts,
    oldestWaitingAgeSeconds: oldest === null ? null : oldest === undefined ? 0 : Math.max(0, Math.round((now.getTime() - oldest) / 1000)),
    lastEventReceivedAt: lastEvent,
    lastHour,
    countingPause,
  };
}

function onlyParameters(req: Request, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (!allowed.includes(name)) throw new ParameterError(name, `unknown parameter (this endpoint takes ${allowed.join(', ')})`);
    if (typeof value !== 'string') throw new ParameterError(name, 'given more than once');
    out[name] = value;
  }
  return out;
}

function wholeNumber(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new ParameterError(name, `must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function format(value: string | undefined): 'json' | 'csv' {
  if (value === undefined || value === '' || value === 'json') return 'json';
  if (value === 'csv') return 'csv';
  throw new ParameterError('format', `must be json or csv, got ${JSON.stringify(value)}`);
}

function sendRows<T>(res: Response, name: string, as: 'json' | 'csv', columns: ReadonlyArray<CsvColumn<T>>, rows: T[], extra: object = {}): void {
  res.set('Cache-Control', 'no-store');
  if (as === 'csv') {
    res.set('Content-Disposition', `attachment; filename="staticreg-${name}.csv"`).type('text/csv; charset=utf-8').send(toCsv(columns, rows));
    return;
  }
  res.json({ panel: name, ...extra, rows });
}

const HEALTH_COLUMNS: ReadonlyArray<CsvColumn<{ name: string; value: string | number | null }>> = [
  { header: 'name', value: (row) => row.name },
  { header: 'value', value: (row) => row.value },
];

const FAILED_COLUMNS: ReadonlyArray<CsvColumn<FailedJob>> = [
  { header: 'failed_at', value: (row) => row.failedAt },
  { header: 'job_id', value: (row) => row.jobId },
  { header: 'event_id', value: (row) => row.eventId },
  { header: 'repository', value: (row) => row.repository },
  { header: 'tag', value: (row) => row.tag },
  { header: 'digest', value: (row) => row.digest },
  { header: 'attempts', value: (row) => row.attemptsMade },
  { header: 'error', value: (row) => row.error },
];

const INTAKE_COLUMNS: ReadonlyArray<CsvColumn<IntakeMinute>> = [
  { header: 'minute', value: (row) => row.minute },
  { header: 'accepted', value: (row) => row.accepted },
  ...SKIP_REASONS.map((reason) => ({ header: `skipped_${reason}`, value: (row: IntakeMinute) => row.skipped[reason] ?? 0 })),
];

/** Reads from Redis, or answers 503 when it is not there or does not answer. */
async function fromRedis<T, S>(source: S | undefined, read: (source: S) => Promise<T>): Promise<T> {
  if (source === undefined) throw new UnavailableError('Redis is not connected');
  return orUnavailable(() => withTimeout(read(source), PROBE_TIMEOUT_MS * 2, 'Redis'), redisUnavailable);
}

export function createPipelineRouter(deps: PipelineDeps): Router {
  const router = express.Router();

  router.get('/api/metrics/pipeline', async (req, res) => {
    const as = format(onlyParameters(req, ['format']).format);
    const health = await readPipelineHealth(deps);
    if (as === 'json') {
      res.set('Cache-Control', 'no-store').json(health);
      return;
    }
    const rows: Array<{ name: string; value: string | number | null }> = [
      { name: 'generated_at', value: health.generatedAt },
      { name: 'redis', value: health.redis.status },
      { name: 'postgres', value: health.postgres.status },
      ...Object.entries(health.queue ?? {}).map(([state, count]) => ({ name: `queue_${state}`, value: count })),
      { name: 'oldest_waiting_age_seconds', value: health.oldestWaitingAgeSeconds },
      { name: 'last_event_received_at', value: health.lastEventReceivedAt },
      { name: 'counting_paused_since', value: health.countingPause?.since ?? null },
      { name: 'counting_paused_sqlstate', value: health.countingPause?.sqlstate ?? null },
      { name: 'counting_paused_reason', value: health.countingPause?.message ?? null },
      { name: 'last_hour_accepted', value: health.lastHour?.accepted ?? null },
      ...SKIP_REASONS.map((reason) => ({ name: `last_hour_skipped_${reason}`, value: health.lastHour ? (health.lastHour.skipped[reason] ?? 0) : null })),
    ];
    sendRows(res, 'pipeline', 'csv', HEALTH_COLUMNS, rows);
  });

  router.get('/api/metrics/intake', async (req, res) => {
    const params = onlyParameters(req, ['minutes', 'format']);
    const minutes = wholeNumber('minutes', params.minutes, 60, 180);
    const as = format(params.format);
    const rows = await fromRedis(deps.redis, (redis) => readIntake(redis, minutes, (deps.now?.() ?? new Date()).getTime()));
    sendRows(res, 'intake', as, INTAKE_COLUMNS, rows, { reasons: SKIP_REASONS });
  });

  router.get('/api/metrics/failed-jobs', async (req, res) => {
    const params = onlyParameters(req, ['limit', 'format']);
    const limit = wholeNumber('limit', params.limit, 20, 500);
    const as = format(params.format);
    sendRows(res, 'failed-jobs', as, FAILED_COLUMNS, await fromRedis(deps.queue, (queue) => recentFailedJobs(queue, limit)));
  });

  return router;
}
