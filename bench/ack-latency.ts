// Bench 1: ack latency the registry's way: one event per POST, a new TCP connection each, one request at a time.
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Queue } from 'bullmq';
import type { Database } from '@staticreg/db';
import type { PullJobData } from '@staticreg/queue';
import { freePort } from '../test/support/processes.js';
import { totalPulls } from '../test/support/services.js';
import { freshBody, REGISTRY_CONTENT_TYPE, type CapturedBody } from './events.js';
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
/**
 * Requests sent to every server first, in the same turns, and not measured: a Node server answers its first few
 * thousand requests slower (JIT, heap growth; docs/performance.md, "Warm-up"), and a receiver serves a registry
 * for days, so the bench measures each design in its steady state.
 */
export const ACK_WARMUP = 10_000;
/** Requests sent to one design before the next design's turn. */
const ACK_BLOCK = 250;
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
  /** node:http + the rules + one Redis PING: what acking after any Redis round trip costs at least. */
  redisRoundTrip: AckRow;
  bareEnqueue: AckRow;
  expressOnly: AckRow;
  receiver: AckRow;
  receiverWithWorker: AckRow;
  synchronous: AckRow;
}

/**
 * POSTs one body on a connection of its own, byte for byte what Docker Distribution's Go client sends (its four
 * headers, keep-alive by default), reads the answer to its Content-Length and closes: the registry opens a new
 * connection for every notification. A raw socket, not node:http's client, so the client's own overhead and
 * garbage stay out of the figures (with node:http's client they showed in every row, the floor's included).
 * Timed from before connecting to the last body byte.
 */
function postOnce(port: number, body: string): Promise<{ status: number; ms: number }> {
  const request = Buffer.from(
    `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: Go-http-client/1.1\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${REGISTRY_CONTENT_TYPE}\r\nAccept-Encoding: gzip\r\n\r\n${body}`,
  );
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let answer: Buffer = Buffer.alloc(0);
    const finish = (status: number): void => {
      const ms = performance.now() - started;
      socket.destroy();
      resolve({ status, ms });
    };
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      answer = answer.length === 0 ? chunk : Buffer.concat([answer, chunk]);
      const headEnd = answer.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = answer.subarray(0, headEnd).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
      if (!Number.isFinite(length)) {
        socket.destroy();
        reject(new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`));
        return;
      }
      if (answer.length - headEnd - 4 >= length) finish(Number(head.slice(9, 12)));
    });
    socket.once('end', () => reject(new Error('connection closed before the whole answer')));
    socket.once('error', reject);
  });
}

/** A server under test: where to POST, and the processes whose CPU and memory count for it. */
interface Design {
  label: string;
  port: number;
  processes: BenchProcess[];
  /** The shared services it calls: their CPU is split among the designs that call them. */
  uses: Array<'redis' | 'postgres'>;
}

interface Sample {
  latencies: number[];
  errors: number;
}

/**
 * Sends `count` requests to each design, one request at a time, in blocks of ACK_BLOCK per design taken in turn:
 * every design meets the machine in the same stretches of time, and each block runs warm (a request to another
 * process every time would measure cold caches instead).
 */
async function sendInTurn(designs: Design[], captured: CapturedBody, from: number, count: number): Promise<Sample[]> {
  const samples = designs.map((): Sample => ({ latencies: [], errors: 0 }));
  for (let block = 0; block < count; block += ACK_BLOCK) {
    for (const [index, design] of designs.entries()) {
      for (let request = block; request < Math.min(count, block + ACK_BLOCK); request += 1) {
        // Built before the clock starts: a fresh event id, and a client address per request.
        const { status, ms } = await postOnce(design.port, freshBody(captured, from + request));
        if (status !== 200) samples[index]!.errors += 1;
        samples[index]!.latencies.push(ms);
      }
    }
  }
  return samples;
}

/** Warms every design up, then measures ACK_REQUESTS requests each, taken in turn; returns one row per design. */
async function measure(designs: Design[], context: AckContext, verify: () => Promise<string[]>): Promise<AckRow[]> {
  const warmup = await sendInTurn(designs, context.captured, 0, ACK_WARMUP);
  await waitForQuietMachine(QUIET_BUSY_PCT, QUIET_WAIT_MS);
  const pids = Object.fromEntries(designs.flatMap((design) => design.processes.map((proc) => [proc.name, proc.pid])));
  const cpuSince = await meterCpu({ ...pids, redis: context.redisPid }, { db: context.db, database: context.dbName });
  const run = await sendInTurn(designs, context.captured, ACK_WARMUP, ACK_REQUESTS);
  const cpu = await cpuSince();
  const checks = await verify();
  const perRequest = (seconds: number) => (seconds * 1e6) / ACK_REQUESTS;
  const users = (service: 'redis' | 'postgres') => Math.max(1, designs.filter((design) => design.uses.includes(service)).length);
  return designs.map((design, index) => {
    const sample = run[index]!;
    // The registry sends serially, so its rate is one over the mean latency: requests over their summed time.
    const summary = summarize(sample.latencies, sample.latencies.reduce((sum, ms) => sum + ms, 0));
    const row: AckRow = {
      label: design.label,
      summary,
      errors: warmup[index]!.errors + sample.errors,
      peakRss: Object.fromEntries(design.processes.map((proc) => [proc.name, proc.peakRssMiB()])),
      serverCpuUs: perRequest(design.processes.reduce((sum, proc) => sum + (cpu.seconds[proc.name] ?? 0), 0)),
      redisCpuUs: design.uses.includes('redis') ? perRequest(cpu.seconds.redis ?? 0) / users('redis') : 0,
      postgresCpuUs: design.uses.includes('postgres') ? perRequest(cpu.seconds.postgres ?? 0) / users('postgres') : 0,
      otherPct: cpu.otherPct,
      check: checks[index] ?? '',
    };
    progress(
      `${row.label}: p50 ${fixed(summary.p50Ms)} ms, p99 ${fixed(summary.p99Ms)} ms, ${thousands(summary.eventsPerSecond)} events/s; ` +
        `${row.check}; other load ${fixed(cpu.otherPct, 0)}%`,
    );
    return row;
  });
}

async function startServer(
  name: string,
  args: (port: number) => string[],
  env: (port: number) => Record<string, string>,
  readyPath: string,
): Promise<{ proc: BenchProcess; port: number }> {
  const port = await freePort();
  const proc = startNode(name, args(port), env(port));
  await waitForHttp(`http://127.0.0.1:${port}${readyPath}`, proc);
  return { proc, port };
}

/** The bench's load posts without a token, as the designs it compares do; checking one costs a SHA-256 per request. */
const UNAUTHENTICATED = { STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED: 'true' };

export async function runAckLatencyBench(context: AckContext): Promise<AckResult> {
  const sent = ACK_WARMUP + ACK_REQUESTS;
  const appEnv = (extra: Record<string, string>) => ({ STATICREG_REDIS_URL: BENCH_REDIS_URL, STATICREG_BIND: '127.0.0.1', ...extra });
  await context.resetStores();

  // Six designs side by side, each a process of its own, measured in turns of ACK_BLOCK requests.
  const floor = await startServer('floor', (port) => benchServerArgs('floor.ts', String(port)), () => ({}), '/');
  // The least a queueing receiver can do: node:http, JSON.parse, the rules and one enqueue; no Express, no log line.
  const bare = await startServer('bare-enqueue', (port) => benchServerArgs('bare-enqueue.ts', String(port), BENCH_REDIS_URL), () => ({}), '/');
  // The same with one Redis PING in place of the enqueue: the lower bound of any design that acks after Redis.
  const ping = await startServer('bare-ping', (port) => benchServerArgs('bare-enqueue.ts', String(port), BENCH_REDIS_URL, 'ping'), () => ({}), '/');
  // What Express, body parsing, the rules and the log line cost with no I/O: the receiver and the synchronous design pay it.
  const express = await startServer('express-none', (port) => benchServerArgs('express-ingest.ts', String(port)), () => ({}), '/healthz');
  // The real receiver, built JS, default info logging to a file; nothing consumes the queue meanwhile.
  const receiver = await startServer(
    'receiver',
    () => ['apps/receiver/dist/main.js'],
    (port) => appEnv({ STATICREG_RECEIVER_PORT: String(port), ...UNAUTHENTICATED }),
    '/readyz',
  );
  // The synchronous design: the same receiver, committing each request's events to Postgres before it answers.
  const sync = await startServer(
    'receiver-sync',
    () => benchServerArgs('receiver-sync.ts', context.dbUrl),
    (port) => appEnv({ STATICREG_RECEIVER_PORT: String(port), ...UNAUTHENTICATED }),
    '/readyz',
  );
  const together = await measure(
    [
      { label: 'floor: bare node:http, read body, 200', port: floor.port, processes: [floor.proc], uses: [] },
      { label: 'node:http + rules + Redis PING', port: ping.port, processes: [ping.proc], uses: ['redis'] },
      { label: 'node:http + rules + enqueue, no Express', port: bare.port, processes: [bare.proc], uses: ['redis'] },
      { label: 'Express + rules + log line, no I/O', port: express.port, processes: [express.proc], uses: [] },
      { label: 'receiver (Express + enqueue to Redis)', port: receiver.port, processes: [receiver.proc], uses: ['redis'] },
      { label: 'synchronous: receiver + 1 PG tx/request', port: sync.port, processes: [sync.proc], uses: ['postgres'] },
    ],
    context,
    async () => {
      const jobs = await jobsInQueue(context.queue);
      if (jobs !== 2 * sent) throw new Error(`${jobs} jobs in Redis for ${2 * sent} requests to the two queueing designs`);
      const counted = await totalPulls(context.db);
      if (counted !== sent) throw new Error(`synchronous design counted ${counted} of ${sent}`);
      const enqueued = `${thousands(jobs)} jobs in Redis from both`;
      return ['answers only', 'answers only', enqueued, 'answers only', enqueued, `${thousands(counted)} pulls counted`];
    },
  );
  await Promise.all([floor, ping, bare, express, receiver, sync].map((server) => server.proc.stop()));

  // The receiver again, alone, while the real worker drains the queue into Postgres on the same two cores.
  await context.resetStores();
  const worker = await startServer(
    'worker-during-acks',
    () => ['apps/worker/dist/main.js'],
    (port) => appEnv({ STATICREG_DB_URL: context.dbUrl, STATICREG_WORKER_PORT: String(port) }),
    '/readyz',
  );
  const receiver2 = await startServer(
    'receiver-with-worker',
    () => ['apps/receiver/dist/main.js'],
    (port) => appEnv({ STATICREG_RECEIVER_PORT: String(port), ...UNAUTHENTICATED }),
    '/readyz',
  );
  const [withWorker] = await measure(
    [
      {
        label: 'receiver alone, worker draining meanwhile',
        port: receiver2.port,
        processes: [receiver2.proc, worker.proc],
        uses: ['redis', 'postgres'],
      },
    ],
    context,
    async () => {
      // Every event id is claimed whatever the count policy; the pulls it yields depend on the policy.
      await waitFor(async () => (await processedEventIds(context.db)) === sent, 30_000, 'the worker to store every event');
      return [`${thousands(sent)} events stored by the worker, ${thousands(await totalPulls(context.db))} pulls`];
    },
  );
  await Promise.all([receiver2.proc.stop(), worker.proc.stop()]);

  const [floorRow, pingRow, bareRow, expressRow, receiverRow, syncRow] = together as [AckRow, AckRow, AckRow, AckRow, AckRow, AckRow];
  return {
    rows: [...together, withWorker!],
    floor: floorRow,
    redisRoundTrip: pingRow,
    bareEnqueue: bareRow,
    expressOnly: expressRow,
    receiver: receiverRow,
    receiverWithWorker: withWorker!,
    synchronous: syncRow,
  };
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
