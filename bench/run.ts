// `make bench`: builds the apps, runs every benchmark against real Postgres and Redis, prints the figures.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { sql } from 'kysely';
import { createPullQueue } from '@staticreg/queue';
import { createTestDatabase, freshRedis } from '../test/support/services.js';
import { ACK_REQUESTS, ACK_WARMUP, formatAckTable, runAckLatencyBench, type AckResult } from './ack-latency.js';
import { generatePullEvents, loadCapturedPull } from './events.js';
import { BENCH_REDIS_URL, fixed, formatTable, REPO_ROOT, RESULTS_DIR, stopAll, thousands, waitForQuietMachine } from './support.js';
import {
  BASELINE_EVENTS,
  DRAIN_EVENTS,
  NOOP_EVENTS,
  drainNoop,
  drainPerEvent,
  drainWithRealWorker,
  formatDrainTable,
  type DrainRow,
} from './worker-drain.js';
import { METRICS_ROWS, TARGET_P95_MS } from './metrics/bench.js';
import { runDashboardBench } from './metrics/run.js';
import { BROWSE_TARGET_P95_MS, runBrowseBench } from './browse/run.js';
import { runCleanupBench } from './cleanup/run.js';

/** `--only=ack`, `--only=drain`, `--only=metrics`, `--only=browse` or `--only=cleanup` runs one bench; `--investigate` adds worker runs with other settings. */
const args = process.argv.slice(2);
const only = args.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const investigate = args.includes('--investigate');

/** The benches wait (up to a minute) for the two cores to be this idle before they start. */
const QUIET_BUSY_PCT = 15;
const QUIET_WAIT_MS = 60_000;

/** Worker settings tried by --investigate, each on the same 100,000 events. */
const WORKER_VARIANTS: Array<{ label: string; env: Record<string, string>; processes?: number }> = [
  { label: 'worker, STATICREG_BATCHES_IN_FLIGHT=1', env: { STATICREG_BATCHES_IN_FLIGHT: '1' } },
  { label: 'worker, events, STATICREG_BATCHES_IN_FLIGHT=1', env: { STATICREG_BATCHES_IN_FLIGHT: '1', STATICREG_COUNT_POLICY: 'events' } },
  { label: 'worker, STATICREG_BATCHES_IN_FLIGHT=3', env: { STATICREG_BATCHES_IN_FLIGHT: '3' } },
  { label: 'worker, STATICREG_LOG_LEVEL=warn', env: { STATICREG_LOG_LEVEL: 'warn' } },
  { label: 'worker, STATICREG_BATCH_SIZE=250', env: { STATICREG_BATCH_SIZE: '250' } },
  { label: 'worker, STATICREG_BATCH_SIZE=1000', env: { STATICREG_BATCH_SIZE: '1000' } },
  { label: 'two worker processes', env: {}, processes: 2 },
];

/** Set on SIGINT/SIGTERM: the signal handler cleans up and exits, whatever the benches still throw. */
let interrupted = false;

function verdict(met: boolean): string {
  return met ? 'met' : 'NOT met';
}

function versionOf(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim().split('\n')[0]!;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log('staticreg benchmarks');
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${fixed(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, ` +
      `${versionOf('psql', ['--version'])}, ${versionOf('redis-server', ['--version'])}`,
  );
  console.log('building apps/receiver and apps/worker (tsc -b), whose dist/ the benches run');
  execFileSync('npx', ['tsc', '-b', 'apps/receiver', 'apps/worker'], { cwd: REPO_ROOT, stdio: 'inherit' });
  console.log(`load average at start: ${loadavg().map((value) => fixed(value)).join(' ')}`);
  const idleBusy = await waitForQuietMachine(QUIET_BUSY_PCT, QUIET_WAIT_MS);
  console.log(
    `machine busy before the benches: ${fixed(idleBusy, 0)}%` +
      (idleBusy > QUIET_BUSY_PCT ? ' -- WARNING: other work is running, the figures below are skewed by it' : ''),
  );


  const database = await createTestDatabase();
  const redis = await freshRedis(BENCH_REDIS_URL);
  const queue = createPullQueue(redis);
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  // Every table the migrations made (counts, dedup ids, whatever else the worker keeps), so no run sees the last one's rows.
  const tables = await sql<{ tablename: string }>`
    select tablename from pg_tables where schemaname = 'public' and tablename not like 'staticreg_migration%'`.execute(database.db);
  const resetStores = async (): Promise<void> => {
    await sql`truncate ${sql.join(tables.rows.map((row) => sql.table(row.tablename)))}`.execute(database.db);
    await redis.flushdb();
  };
  console.log(`Postgres database ${database.name} (dropped at the end), Redis ${BENCH_REDIS_URL} (flushed)`);

  // Ctrl-C or a SIGTERM still stops every server and drops the database.
  const cleanUp = async (): Promise<void> => {
    await stopAll();
    await queue.close();
    await redis.flushdb();
    redis.disconnect();
    await database.drop();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(1);
    interrupted = true;
    console.error(`\n${signal}: stopping the bench processes and dropping ${database.name}`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let ack: AckResult | undefined;
  const drains: DrainRow[] = [];
  const variants: DrainRow[] = [];
  try {
    if (only === undefined || only === 'ack') {
      console.log(`\n[1] serial ack latency: ${thousands(ACK_REQUESTS)} POSTs per design, one event each, a new connection each`);
      ack = await runAckLatencyBench({ dbUrl: database.url, dbName: database.name, db: database.db, queue, captured: loadCapturedPull(), redisPid, resetStores });
    }
    if (only === undefined || only === 'drain') {
      console.log(`\n[2] worker drain: ${thousands(DRAIN_EVENTS)} jobs enqueued first, then the consumer starts`);
      const mix = generatePullEvents({ count: DRAIN_EVENTS });
      console.log(`  .. events: ${mix.repositories} repositories, ${thousands(mix.distinctKeys)} distinct (day, repo, tag, digest, arch) keys`);
      const context = { dbUrl: database.url, dbName: database.name, db: database.db, redis, queue, redisPid, resetStores };
      drains.push(await drainWithRealWorker(context, mix.events));
      // A worker that logs a count policy other than events is also run with the events policy, the one the baselines use.
      if (/countPolicy=(?!events)/.test(drains[0]!.settings)) {
        drains.push(await drainWithRealWorker(context, mix.events, 'worker, STATICREG_COUNT_POLICY=events', { STATICREG_COUNT_POLICY: 'events' }));
      }
      // Each policy against its own per-event design: one upsert per event, and the sessions policy's work for one event.
      drains.push(await drainPerEvent(context, mix.events.slice(0, BASELINE_EVENTS), 'events'));
      if (/countPolicy=sessions/.test(drains[0]!.settings)) {
        drains.push(await drainPerEvent(context, mix.events.slice(0, BASELINE_EVENTS), 'sessions'));
      }
      drains.push(await drainNoop(context, mix.events.slice(0, NOOP_EVENTS)));
      if (investigate) {
        for (const variant of WORKER_VARIANTS) {
          variants.push(await drainWithRealWorker(context, mix.events, variant.label, variant.env, variant.processes));
        }
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) await cleanUp();
  }

  const targets: Array<[string, string, string]> = [];
  if (ack) {
    console.log(
      `\n[1] serial ack latency (client: this process, a raw socket sending Go's request; servers: one process each, the first six measured in turns of 250 requests; ` +
        `${thousands(ACK_REQUESTS)} requests each after ${thousands(ACK_WARMUP)} of warm-up)`,
    );
    console.log(formatAckTable(ack));
    const { floor, receiver, synchronous } = ack;
    const p50Ratio = receiver.summary.p50Ms / floor.summary.p50Ms;
    const speedup = receiver.summary.eventsPerSecond / synchronous.summary.eventsPerSecond;
    const speedupWithWorker = ack.receiverWithWorker.summary.eventsPerSecond / synchronous.summary.eventsPerSecond;
    targets.push(['receiver p50 within 1.5x of the floor', `${fixed(p50Ratio)}x`, verdict(p50Ratio <= 1.5)]);
    // Context for that verdict: what one Redis round trip alone costs over the floor, with nothing else done.
    const pingRatio = ack.redisRoundTrip.summary.p50Ms / floor.summary.p50Ms;
    targets.push(['(floor + one Redis PING, for reference)', `${fixed(pingRatio)}x`, pingRatio <= 1.5 ? 'reachable' : 'floor+PING alone misses it']);
    targets.push(['receiver p99 under 3 ms', `${fixed(receiver.summary.p99Ms)} ms`, verdict(receiver.summary.p99Ms < 3)]);
    targets.push(['receiver p99 under 3 ms, worker draining', `${fixed(ack.receiverWithWorker.summary.p99Ms)} ms`, verdict(ack.receiverWithWorker.summary.p99Ms < 3)]);
    targets.push(['receiver >= 3x the synchronous events/s', `${fixed(speedup)}x`, verdict(speedup >= 3)]);
    targets.push(['same, worker draining meanwhile', `${fixed(speedupWithWorker)}x`, verdict(speedupWithWorker >= 3)]);
  }
  if (drains.length > 0) {
    console.log(
      `\n[2] worker drain (per-event baseline on the first ${thousands(BASELINE_EVENTS)} events of the same mix, BullMQ floor on the first ${thousands(NOOP_EVENTS)})`,
    );
    console.log(formatDrainTable(drains));
    const batched = drains[0];
    const perEventEvents = drains.find((row) => row.label.startsWith('per-event: 1 PG tx/job, events'));
    const perEventSessions = drains.find((row) => row.label.startsWith('per-event: 1 PG tx/job, sessions'));
    const perEvent = /countPolicy=sessions/.test(batched?.settings ?? '') ? (perEventSessions ?? perEventEvents) : perEventEvents;
    if (batched && perEvent) {
      const ratio = batched.eventsPerSecond / perEvent.eventsPerSecond;
      const finished = batched.finished && perEvent.finished;
      const unfinished = 'not measured (a drain hit its deadline)';
      targets.push(['worker >= 15,000 events/s', thousands(batched.eventsPerSecond), batched.finished ? verdict(batched.eventsPerSecond >= 15_000) : unfinished]);
      targets.push([`worker >= 10x the per-event design (${perEvent === perEventSessions ? 'both sessions' : 'events'})`, `${fixed(ratio, 1)}x`, finished ? verdict(ratio >= 10) : unfinished]);
      const eventsWorker = drains.find((row) => row !== batched && row.settings.includes('countPolicy=events'));
      if (eventsWorker && perEventEvents) {
        targets.push([
          'same two, worker and per-event design with the events policy',
          `${thousands(eventsWorker.eventsPerSecond)}, ${fixed(eventsWorker.eventsPerSecond / perEventEvents.eventsPerSecond, 1)}x`,
          eventsWorker.finished && perEventEvents.finished
            ? `${verdict(eventsWorker.eventsPerSecond >= 15_000)}, ${verdict(eventsWorker.eventsPerSecond >= 10 * perEventEvents.eventsPerSecond)}`
            : unfinished,
        ]);
      }
      const stored = drains.filter((row) => row.stores);
      targets.push([
        'sum(pull_count) = events enqueued',
        stored.map((row) => `${thousands(row.counted)} = ${thousands(row.events)}`).join('; '),
        stored.every((row) => row.finished) ? verdict(stored.every((row) => row.exact)) : unfinished,
      ]);
    }
    for (const row of drains.filter((entry) => entry.settings)) console.log(`  ${row.label}: ${row.settings}`);
    console.log(
      `  worker log: ${thousands(drains[0]!.logLines)} 'Pull metrics updated' lines, ${fixed(drains[0]!.logMiB, 1)} MiB, for ${thousands(drains[0]!.metricRows)} rows`,
    );
  }
  if (variants.length > 0) {
    console.log('\n[2b] worker settings (--investigate), same 100,000 events');
    console.log(formatDrainTable([drains[0]!, ...variants]));
    for (const row of [drains[0]!, ...variants]) console.log(`  ${row.label}: ${row.settings || 'settings not logged'}`);
  }

  if (ack || drains.length > 0) {
    console.log('\n[3] peak RSS (VmHWM, read just before each process was stopped)');
    const rss: Array<[string, string, string]> = [];
    if (ack) {
      rss.push(['receiver', 'bench 1, nothing consuming', fixed(ack.receiver.peakRss.receiver ?? Number.NaN, 0)]);
      rss.push(['receiver', 'bench 1, worker draining', fixed(ack.receiverWithWorker.peakRss['receiver-with-worker'] ?? Number.NaN, 0)]);
      rss.push(['worker', `bench 1, ${thousands(ACK_REQUESTS + ACK_WARMUP)} events as they arrive`, fixed(ack.receiverWithWorker.peakRss['worker-during-acks'] ?? Number.NaN, 0)]);
    }
    if (drains[0]) rss.push(['worker', `bench 2, ${thousands(drains[0].events)}-job backlog`, fixed(drains[0].peakRssMiB, 0)]);
    console.log(formatTable(['process', 'load', 'peak RSS MiB'], rss));
  }

  // ---- [4] the dashboard's queries at 10M rows (bench/metrics). Own database, own report. ----
  if (only === undefined || only === 'metrics') {
    console.log(`\n[4] dashboard queries at ${thousands(METRICS_ROWS)} rows (bench/metrics; also alone: node --import tsx --conditions=staticreg-source bench/metrics/run.ts)`);
    const metrics = await runDashboardBench((line) => console.log(`  ${line}`));
    for (const panel of metrics.panels) {
      targets.push([`dashboard ${panel.name}: p95 under ${TARGET_P95_MS} ms`, `${fixed(panel.p95Ms)} ms`, verdict(panel.p95Ms < TARGET_P95_MS)]);
    }
  }
  // ---- end of [4] ----

  // ---- [5] browse pages at 100,000 repositories and 1,000,000 tags (bench/browse). Own registry, database and report. ----
  if (only === undefined || only === 'browse') {
    console.log('\n[5] browse pages from the catalog, in memory and in Postgres (bench/browse; also alone: node --import tsx --conditions=staticreg-source bench/browse/run.ts)');
    const browse = await runBrowseBench({}, (line) => console.log(`  ${line}`));
    for (const [store, pages] of [['memory', browse.memoryPages], ['Postgres', browse.postgresPages ?? []]] as const) {
      const slowest = pages.filter((page) => !page.page.startsWith('baseline')).sort((a, b) => b.p95 - a.p95)[0];
      if (slowest) targets.push([`browse, ${store} catalog: every page's p95 under ${BROWSE_TARGET_P95_MS} ms`, `slowest ${fixed(slowest.p95)} ms (${slowest.page})`, verdict(slowest.p95 < BROWSE_TARGET_P95_MS)]);
    }
  }
  // ---- end of [5] ----

  // ---- [6] the cleanup plan over the browse bench's catalog (bench/cleanup). Own database and report. ----
  if (only === undefined || only === 'cleanup') {
    console.log('\n[6] cleanup plan over 100,000 repositories and 1,000,000 tags, against one SQL query (bench/cleanup; also alone: node --expose-gc --import tsx --conditions=staticreg-source bench/cleanup/run.ts)');
    const cleanup = await runCleanupBench({}, (line) => console.log(`  ${line}`));
    targets.push(['cleanup plan equals the SQL baseline', `${thousands(cleanup.plan.deletions)} deletions, ${fixed(cleanup.plan.seconds, 1)} s vs ${fixed(cleanup.baseline.seconds, 1)} s`, verdict(cleanup.equal)]);
  }
  // ---- end of [6] ----

  if (targets.length > 0) {
    console.log('\ntargets');
    console.log(formatTable(['target', 'measured', 'verdict'], targets));
  }
  console.log(`\nload average at end: ${loadavg().map((value) => fixed(value)).join(' ')}; total ${fixed((Date.now() - started) / 1000, 0)} s`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}latest.json`, `${JSON.stringify({ at: new Date().toISOString(), ack, drains, variants, targets }, null, 2)}\n`);
  console.log(`figures as JSON: bench/results/latest.json; process logs: bench/results/*.log`);
}

main().catch(async (error: unknown) => {
  if (interrupted) return;
  await stopAll();
  console.error(error);
  process.exit(1);
});
