// Bench 2: how fast a backlog of pull jobs in Redis becomes exact counts in Postgres, batched worker vs per-event.
import { readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PullEvent } from '@staticreg/events';
import type { Database } from '@staticreg/db';
import { PULL_JOB, type PullJobData } from '@staticreg/queue';
import { freePort } from '../test/support/processes.js';
import { totalPulls } from '../test/support/services.js';
import {
  BENCH_REDIS_URL,
  benchServerArgs,
  fixed,
  formatTable,
  jobsInQueue,
  meterCpu,
  processedEventIds,
  progress,
  sleep,
  startNode,
  thousands,
  waitForHttp,
  waitForQuietMachine,
  type BenchProcess,
} from './support.js';

export const DRAIN_EVENTS = 100_000;
/** Small: with the rollup triggers of migrations/0005 one transaction per event runs at ~80 events/s here. */
export const BASELINE_EVENTS = 3000;
export const BASELINE_CONCURRENCY = 16;
/** The real worker's concurrency: STATICREG_BATCH_SIZE x STATICREG_BATCHES_IN_FLIGHT, 500 x 2 by default. */
export const NOOP_CONCURRENCY = 1000;
/** Enough for a steady rate, and half the time of a full backlog. */
export const NOOP_EVENTS = 50_000;
const ENQUEUE_CHUNK = 1000;
const DRAIN_TIMEOUT_MS = 120_000;
const POLL_MS = 50;
/** Before each consumer starts, wait (up to 10 s) for other work on the machine to die down. */
const QUIET_BUSY_PCT = 15;
const QUIET_WAIT_MS = 10_000;

export interface DrainContext {
  dbUrl: string;
  dbName: string;
  db: Kysely<Database>;
  redis: Redis;
  queue: Queue<PullJobData>;
  redisPid: number;
  resetStores(): Promise<void>;
}

export interface DrainRow {
  label: string;
  events: number;
  enqueueMs: number;
  /** Spawn until the process is ready to consume (node start, connections, migrations). */
  startupMs: number;
  /** Ready until sum(pull_count) equals the events enqueued, or until the deadline. */
  drainMs: number;
  /** False when the deadline (DRAIN_TIMEOUT_MS) came first. */
  finished: boolean;
  eventsPerSecond: number;
  counted: number;
  processedIds: number;
  failedJobs: number;
  leftInQueue: number;
  /** False for the no-op floor, which stores nothing. */
  stores: boolean;
  exact: boolean;
  metricRows: number;
  /** The largest peak RSS of the consumer's processes. */
  peakRssMiB: number;
  /** CPU seconds used during the drain by the consumer's processes, Redis and the bench's Postgres processes. */
  consumerCpuS: number;
  redisCpuS: number;
  postgresCpuS: number;
  /** Share of both cores busy during the drain, and the part of it that was other work on the machine. */
  machineBusyPct: number;
  otherPct: number;
  logLines: number;
  logMiB: number;
  /** The settings the real worker logged on start ('Worker consuming pull jobs'), when it is the real worker. */
  settings: string;
}

/** The fields of the worker's start-up line, e.g. "countPolicy=sessions batchSize=500 batchMaxWaitMs=200". */
function loggedSettings(log: string): string {
  const line = log.split('\n').find((entry) => entry.includes('"msg":"Worker consuming pull jobs"'));
  if (!line) return '';
  const fields = JSON.parse(line) as Record<string, unknown>;
  return Object.entries(fields)
    .filter(([key]) => !['level', 'time', 'service', 'pid', 'hostname', 'msg', 'healthPort'].includes(key))
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
}

async function enqueue(queue: Queue<PullJobData>, events: readonly PullEvent[]): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < events.length; start += ENQUEUE_CHUNK) {
    await queue.addBulk(events.slice(start, start + ENQUEUE_CHUNK).map((event) => ({ name: PULL_JOB, data: { v: 1 as const, event } })));
  }
  return performance.now() - started;
}

/** The consumer's processes (one, unless a bench runs several workers side by side), ready when all are. */
interface Consumer {
  procs: BenchProcess[];
  ready: Promise<void>;
}

/** How far a drain got: pulls counted in Postgres, or (for a consumer that stores nothing) jobs gone from the queue. */
type DoneCounter = (context: DrainContext, events: number) => Promise<number>;

const countedInPostgres: DoneCounter = (context) => totalPulls(context.db);

const goneFromQueue: DoneCounter = async (context, events) => events - (await jobsInQueue(context.queue));

/** Starts a bench consumer that reports readiness over IPC. */
function startIpcConsumer(name: string, args: string[]): Consumer {
  const proc = startNode(name, args, {}, { ipc: true });
  const ready = new Promise<void>((resolve, reject) => {
    proc.child.once('message', () => resolve());
    proc.child.once('exit', (code) => reject(new Error(`${name} exited with ${code}; see ${proc.logFile}`)));
  });
  return { procs: [proc], ready };
}

/**
 * Enqueues the events, starts the consumer, and times it from ready until every event is counted;
 * then checks the counts are exact and nothing is left in or failed out of the queue.
 */
async function drain(
  label: string,
  context: DrainContext,
  events: readonly PullEvent[],
  startConsumer: () => Promise<Consumer>,
  done: DoneCounter = countedInPostgres,
): Promise<DrainRow> {
  await context.resetStores();
  const enqueueMs = await enqueue(context.queue, events);
  const redisMemory = /used_memory_human:(\S+)/.exec(await context.redis.info('memory'))?.[1] ?? '?';
  progress(`${label}: enqueued ${thousands(events.length)} jobs in ${thousands(enqueueMs)} ms (Redis uses ${redisMemory})`);

  await waitForQuietMachine(QUIET_BUSY_PCT, QUIET_WAIT_MS);
  const spawned = performance.now();
  const { procs, ready } = await startConsumer();
  await ready;
  const readyAt = performance.now();
  const pids = Object.fromEntries(procs.map((proc) => [proc.name, proc.pid]));
  const cpuSince = await meterCpu({ ...pids, redis: context.redisPid }, { db: context.db, database: context.dbName });

  let counted = 0;
  const deadline = readyAt + DRAIN_TIMEOUT_MS;
  while (counted < events.length && performance.now() < deadline) {
    const exited = procs.find((proc) => proc.child.exitCode !== null);
    if (exited) throw new Error(`${exited.name} exited with ${exited.child.exitCode}; see ${exited.logFile}`);
    counted = await done(context, events.length);
    if (counted < events.length) await sleep(POLL_MS);
  }
  const doneAt = performance.now();
  const countedInTime = counted;
  const cpu = await cpuSince();

  // Let anything still in flight land, then check nothing was counted twice or lost.
  await sleep(1000);
  counted = await done(context, events.length);
  const processed = await processedEventIds(context.db);
  const rows = await context.db
    .selectFrom('container_pull_metrics')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  const jobs = await context.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
  const peakRssMiB = Math.max(...procs.map((proc) => proc.peakRssMiB()));
  await Promise.all(procs.map((proc) => proc.stop()));

  const logs = procs.map((proc) => readFileSync(proc.logFile, 'utf8'));
  const drainMs = doneAt - readyAt;
  const row: DrainRow = {
    label,
    events: events.length,
    enqueueMs,
    startupMs: readyAt - spawned,
    drainMs,
    // Unfinished at the deadline: the average rate until then.
    eventsPerSecond: (Math.min(countedInTime, events.length) / drainMs) * 1000,
    finished: countedInTime >= events.length,
    counted,
    processedIds: processed,
    failedJobs: jobs.failed ?? 0,
    leftInQueue: (jobs.waiting ?? 0) + (jobs.active ?? 0) + (jobs.delayed ?? 0) + (jobs.prioritized ?? 0),
    stores: done === countedInPostgres,
    exact: countedInTime >= events.length && counted === events.length && (done === goneFromQueue || processed === events.length),
    metricRows: Number(rows.n),
    peakRssMiB,
    consumerCpuS: procs.reduce((sum, proc) => sum + (cpu.seconds[proc.name] ?? 0), 0),
    redisCpuS: cpu.seconds.redis ?? 0,
    postgresCpuS: cpu.seconds.postgres ?? 0,
    machineBusyPct: cpu.machineBusyPct,
    otherPct: cpu.otherPct,
    logLines: logs.reduce((sum, log) => sum + log.split('\n').filter((line) => line.includes('"msg":"Pull metrics updated"')).length, 0),
    logMiB: procs.reduce((sum, proc) => sum + statSync(proc.logFile).size, 0) / (1024 * 1024),
    settings: loggedSettings(logs[0] ?? ''),
  };
  progress(
    `${label}: ${thousands(row.counted)} counted in ${thousands(drainMs)} ms = ${thousands(row.eventsPerSecond)} events/s; ` +
      `${row.finished ? '' : `UNFINISHED after ${DRAIN_TIMEOUT_MS / 1000} s, `}${row.stores ? `exact ${row.exact}, ` : ''}failed ${row.failedJobs}, left ${row.leftInQueue}; other load ${fixed(cpu.otherPct, 0)}%`,
  );
  return row;
}

/**
 * The real worker (apps/worker/dist/main.js) at its default settings unless `env` overrides some; `processes`
 * workers side by side share the queue, as a deployment with several replicas would.
 */
export async function drainWithRealWorker(
  context: DrainContext,
  events: readonly PullEvent[],
  label = 'worker (batched, defaults)',
  env: Record<string, string> = {},
  processes = 1,
): Promise<DrainRow> {
  return drain(label, context, events, async () => {
    const procs: BenchProcess[] = [];
    const ready: Array<Promise<void>> = [];
    for (let index = 0; index < processes; index += 1) {
      const port = await freePort();
      const proc = startNode(index === 0 ? 'worker-drain' : `worker-drain-${index + 1}`, ['apps/worker/dist/main.js'], {
        STATICREG_DB_URL: context.dbUrl,
        STATICREG_REDIS_URL: BENCH_REDIS_URL,
        STATICREG_WORKER_PORT: String(port),
        STATICREG_BIND: '127.0.0.1',
        ...env,
      });
      procs.push(proc);
      ready.push(waitForHttp(`http://127.0.0.1:${port}/readyz`, proc));
    }
    return { procs, ready: Promise.all(ready).then(() => undefined) };
  });
}

/** The baseline: one transaction per job, `concurrency` jobs at a time, under the events or the sessions policy. */
export async function drainPerEvent(
  context: DrainContext,
  events: readonly PullEvent[],
  policy: 'events' | 'sessions' = 'events',
  concurrency = BASELINE_CONCURRENCY,
): Promise<DrainRow> {
  return drain(`per-event: 1 PG tx/job, ${policy}, concurrency ${concurrency}`, context, events, async () =>
    startIpcConsumer(
      `per-event-worker-${policy}`,
      benchServerArgs('per-event-worker.ts', BENCH_REDIS_URL, context.dbUrl, String(concurrency), policy),
    ),
  );
}

/** The floor: BullMQ alone, completing jobs without storing them (by default at the real worker's concurrency). */
export async function drainNoop(context: DrainContext, events: readonly PullEvent[], concurrency = NOOP_CONCURRENCY): Promise<DrainRow> {
  return drain(
    `floor: BullMQ no-op, concurrency ${concurrency}`,
    context,
    events,
    async () => startIpcConsumer('noop-worker', benchServerArgs('noop-worker.ts', BENCH_REDIS_URL, String(concurrency))),
    goneFromQueue,
  );
}

export function formatDrainTable(rows: DrainRow[]): string {
  const perEvent = (seconds: number, row: DrainRow) => fixed((seconds * 1e6) / row.events, 0);
  return formatTable(
    ['consumer', 'events', 'drain s', 'events/s', 'exact', 'failed', 'left', 'rows', 'peak RSS MiB', 'CPU µs/event consumer/redis/pg', 'box busy', 'other load'],
    rows.map((row) => [
      row.label,
      thousands(row.events),
      fixed(row.drainMs / 1000),
      thousands(row.eventsPerSecond),
      !row.finished ? `unfinished (${thousands(row.counted)})` : !row.stores ? 'n/a' : row.exact ? 'yes' : `NO (${thousands(row.counted)})`,
      row.failedJobs,
      row.leftInQueue,
      thousands(row.metricRows),
      fixed(row.peakRssMiB, 0),
      `${perEvent(row.consumerCpuS, row)} / ${perEvent(row.redisCpuS, row)} / ${row.stores ? perEvent(row.postgresCpuS, row) : '-'}`,
      `${fixed(row.machineBusyPct, 0)}%`,
      `${fixed(row.otherPct, 0)}%`,
    ]),
  );
}
