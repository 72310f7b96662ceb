// Bench 1: ack latency the registry's way: one event per POST, a new TCP connection each, one request at a time.
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Queue } from 'bullmq';
import type { Database } from '@staticreg/db';
import type { PullJobData } from '@staticreg/queue';
import { freePort } from '../test/support/processes.js';
import { totalPulls } from '../test/support/services.js';
import { freshBodies, REGISTRY_CONTENT_TYPE, type CapturedBody } from './events.js';
import {
  BENCH_REDIS_URL,
  benchServerArgs,
  fixed,
  formatTable,
  jobsInQueue,
  meterCpu,
  processedEventIds,
  progress,
  startNode,
  summarize,
  thousands,
  waitFor,
  waitForHttp,
  waitForQuietMachine,
  type BenchProcess,
  type LatencySummary,
} from './support.js';

export const ACK_REQUESTS = 5000;
/** Requests sent first and not measured, so every server is measured warm (JIT, pools, Redis script cache). */
export const ACK_WARMUP = 300;
const WEBHOOK_PATH = '/api/webhook/registry';
/** Before each design is measured, wait (up to 10 s) for other work on the machine to die down. */
const QUIET_BUSY_PCT = 15;
const QUIET_WAIT_MS = 10_000;

export interface AckContext {
  dbUrl: string;
  dbName: string;
  db: Kysely<Database>;
  queue: Queue<PullJobData>;
  captured: CapturedBody;
  redisPid: number;
  resetStores(): Promise<void>;
}

export interface AckRow {
  label: string;
  summary: LatencySummary;
  errors: number;
  /** Peak RSS of each server-side Node process, MiB. */
  peakRss: Record<string, number>;
  /** CPU per measured request: the server-side Node processes together, Redis, Postgres; and other work on the box. */
  serverCpuUs: number;
  redisCpuUs: number;
  postgresCpuUs: number;
  otherPct: number;
  check: string;
}

export interface AckResult {
  rows: AckRow[];
  floor: AckRow;
  expressOnly: AckRow;
  receiver: AckRow;
  receiverWithWorker: AckRow;
  synchronous: AckRow;
}

/**
 * POSTs one body on a connection of its own (agent: false, Connection: close), as Docker Distribution does:
 * it closes idle connections after every notification. Timed from before connecting to the last body byte.
 */
function postOnce(port: number, body: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: WEBHOOK_PATH,
        method: 'POST',
        agent: false,
        headers: {
          'content-type': REGISTRY_CONTENT_TYPE,
          'content-length': Buffer.byteLength(body),
          connection: 'close',
          'user-agent': 'Go-http-client/1.1',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function sendSerially(port: number, bodies: string[]): Promise<{ latencies: number[]; wallMs: number; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  for (const body of bodies) {
    const { status, ms } = await postOnce(port, body);
    if (status !== 200) errors += 1;
    latencies.push(ms);
  }
  return { latencies, wallMs: performance.now() - started, errors };
}

async function measure(
  label: string,
  port: number,
  context: AckContext,
  processes: BenchProcess[],
  verify: () => Promise<string>,
): Promise<AckRow> {
  const bodies = freshBodies(context.captured, ACK_WARMUP + ACK_REQUESTS);
  await waitForQuietMachine(QUIET_BUSY_PCT, QUIET_WAIT_MS);
  const warmup = await sendSerially(port, bodies.slice(0, ACK_WARMUP));
  const cpuSince = await meterCpu(
    { ...Object.fromEntries(processes.map((proc) => [proc.name, proc.pid])), redis: context.redisPid },
    { db: context.db, database: context.dbName },
  );
  const run = await sendSerially(port, bodies.slice(ACK_WARMUP));
  const cpu = await cpuSince();
  const check = await verify();
  const peakRss = Object.fromEntries(processes.map((proc) => [proc.name, proc.peakRssMiB()]));
  const perRequest = (seconds: number) => (seconds * 1e6) / ACK_REQUESTS;
  const row: AckRow = {
    label,
    summary: summarize(run.latencies, run.wallMs),
    errors: warmup.errors + run.errors,
    peakRss,
    serverCpuUs: perRequest(processes.reduce((sum, proc) => sum + (cpu.seconds[proc.name] ?? 0), 0)),
    redisCpuUs: perRequest(cpu.seconds.redis ?? 0),
    postgresCpuUs: perRequest(cpu.seconds.postgres ?? 0),
    otherPct: cpu.otherPct,
    check,
  };
  progress(
    `${label}: p50 ${fixed(row.summary.p50Ms)} ms, p99 ${fixed(row.summary.p99Ms)} ms, ${thousands(row.summary.eventsPerSecond)} events/s; ` +
      `${check}; other load ${fixed(cpu.otherPct, 0)}%`,
  );
  return row;
}

export async function runAckLatencyBench(context: AckContext): Promise<AckResult> {
  const sent = ACK_WARMUP + ACK_REQUESTS;
  const appEnv = (extra: Record<string, string>) => ({ STATICREG_REDIS_URL: BENCH_REDIS_URL, STATICREG_BIND: '127.0.0.1', ...extra });

  // (b) the floor
  await context.resetStores();
  let port = await freePort();
  const floorProc = startNode('floor', benchServerArgs('floor.ts', String(port)), {});
  await waitForHttp(`http://127.0.0.1:${port}/`, floorProc);
  const floor = await measure('floor: bare node:http, read body, 200', port, context, [floorProc], async () => 'answers only');
  await floorProc.stop();

  // What Express, body parsing, the rules and the log line cost with no I/O: both designs below pay it.
  port = await freePort();
  const expressProc = startNode('express-none', benchServerArgs('express-ingest.ts', String(port), 'none'), {});
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, expressProc);
  const expressOnly = await measure('Express + rules + log line, no I/O', port, context, [expressProc], async () => 'answers only');
  await expressProc.stop();

  // (a) the real receiver, built JS, default info logging to a file; nothing consumes the queue meanwhile.
  await context.resetStores();
  port = await freePort();
  const receiverProc = startNode('receiver', ['apps/receiver/dist/main.js'], appEnv({ STATICREG_RECEIVER_PORT: String(port) }));
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, receiverProc);
  const receiver = await measure('receiver (Express + enqueue to Redis)', port, context, [receiverProc], async () => {
    const jobs = await jobsInQueue(context.queue);
    if (jobs !== sent) throw new Error(`receiver enqueued ${jobs} jobs for ${sent} requests`);
    return `${thousands(jobs)} jobs in Redis`;
  });
  await receiverProc.stop();

  // (a') the same receiver while the real worker drains the queue into Postgres on the same two cores.
  await context.resetStores();
  port = await freePort();
  const workerPort = await freePort();
  const workerProc = startNode(
    'worker-during-acks',
    ['apps/worker/dist/main.js'],
    appEnv({ STATICREG_DB_URL: context.dbUrl, STATICREG_WORKER_PORT: String(workerPort) }),
  );
  const receiverProc2 = startNode('receiver-with-worker', ['apps/receiver/dist/main.js'], appEnv({ STATICREG_RECEIVER_PORT: String(port) }));
  await waitForHttp(`http://127.0.0.1:${workerPort}/readyz`, workerProc);
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, receiverProc2);
  const receiverWithWorker = await measure(
    'receiver, worker draining meanwhile',
    port,
    context,
    [receiverProc2, workerProc],
    async () => {
      // Every event id is claimed whatever the count policy; the pulls it yields depend on the policy.
      await waitFor(async () => (await processedEventIds(context.db)) === sent, 30_000, 'the worker to store every event');
      return `${thousands(sent)} events stored by the worker, ${thousands(await totalPulls(context.db))} pulls`;
    },
  );
  await Promise.all([receiverProc2.stop(), workerProc.stop()]);

  // (c) the synchronous design: commit in the request.
  await context.resetStores();
  port = await freePort();
  const syncProc = startNode('express-postgres', benchServerArgs('express-ingest.ts', String(port), 'postgres', context.dbUrl), {});
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, syncProc);
  const synchronous = await measure('synchronous: Express + 1 PG tx/request', port, context, [syncProc], async () => {
    const counted = await totalPulls(context.db);
    if (counted !== sent) throw new Error(`synchronous design counted ${counted} of ${sent}`);
    return `${thousands(counted)} pulls counted`;
  });
  await syncProc.stop();

  return { rows: [floor, expressOnly, receiver, receiverWithWorker, synchronous], floor, expressOnly, receiver, receiverWithWorker, synchronous };
}

export function formatAckTable(result: AckResult): string {
  return formatTable(
    ['design', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'events/s', 'non-200', 'CPU µs/req server/redis/pg', 'other load', 'peak RSS MiB'],
    result.rows.map((row) => [
      row.label,
      fixed(row.summary.p50Ms),
      fixed(row.summary.p90Ms),
      fixed(row.summary.p99Ms),
      fixed(row.summary.maxMs),
      thousands(row.summary.eventsPerSecond),
      row.errors,
      `${fixed(row.serverCpuUs, 0)} / ${fixed(row.redisCpuUs, 0)} / ${fixed(row.postgresCpuUs, 0)}`,
      `${fixed(row.otherPct, 0)}%`,
      Object.entries(row.peakRss)
        .map(([name, mib]) => `${name} ${fixed(mib, 0)}`)
        .join(', '),
    ]),
  );
}
