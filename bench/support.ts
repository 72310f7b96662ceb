// Plumbing shared by the benchmarks: child processes with log files, readiness, percentiles, peak RSS, tables.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Queue } from 'bullmq';
import { sql, type Kysely } from 'kysely';
import type { Database } from '@staticreg/db';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Process logs of the last run (gitignored). */
export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
/** The bench's own Redis db index, flushed at start and at the end; tests use /9, a local stack /0. */
export const BENCH_REDIS_URL = 'redis://127.0.0.1:6379/10';

export interface BenchProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** VmHWM of /proc/<pid>/status: the peak resident set so far, in MiB. */
  peakRssMiB(): number;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

const running = new Set<BenchProcess>();

/**
 * Starts `node <args>` from the repository root with only the given environment, stdout and stderr going
 * to bench/results/<name>.log, so a process logs at its normal level without the runner reading the lines.
 */
export function startNode(name: string, args: string[], env: Record<string, string>, options: { ipc?: boolean } = {}): BenchProcess {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const logFile = `${RESULTS_DIR}${name}.log`;
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: options.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pid = child.pid;
  const proc: BenchProcess = {
    name,
    child,
    pid,
    logFile,
    peakRssMiB: () => peakRssMiB(pid),
    async stop(graceMs = 20_000) {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  running.add(proc);
  return proc;
}

/** Stops every process still running (after a failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((proc) => proc.stop(5000)));
}

/** Runs the bench servers from their TypeScript source; @staticreg/* resolve to the same dist/ the apps run. */
export function benchServerArgs(file: string, ...args: string[]): string[] {
  return ['--import', 'tsx', `bench/servers/${file}`, ...args];
}

export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

const CLOCK_TICKS_PER_SECOND = 100;

export function cpuSeconds(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the whole line.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Busy and total jiffies of the whole machine, to tell how saturated the two cores were. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Postgres processes working for the bench: the backends (and their parallel or autovacuum workers) on its
 * database, plus the shared background processes (WAL writer, checkpointer...). Other databases' are other work.
 */
async function postgresPids(db: Kysely<Database>, database: string): Promise<number[]> {
  const result = await sql<{ pid: number }>`
    select pid from pg_stat_activity where datname = ${database} or datname is null`.execute(db);
  return result.rows.map((row) => row.pid);
}

function cpuSecondsIfAlive(pid: number): number | undefined {
  try {
    return cpuSeconds(pid);
  } catch {
    return undefined; // exited
  }
}

export interface CpuUse {
  /** CPU seconds per watched process, plus 'postgres' (its processes working for the bench) and 'runner' (this process). */
  seconds: Record<string, number>;
  /** Share of both cores busy, and the part of it no watched process accounts for (other work on the box). */
  machineBusyPct: number;
  otherPct: number;
}

export interface PostgresScope {
  db: Kysely<Database>;
  /** The bench database's name. */
  database: string;
}

/**
 * Starts accounting CPU for named processes (by pid), the bench's Postgres processes and the runner itself;
 * the returned function reads what each used since. A Postgres backend that exits in between takes its
 * seconds with it, so Postgres figures are a floor.
 */
export async function meterCpu(pids: Record<string, number>, postgres: PostgresScope): Promise<() => Promise<CpuUse>> {
  const readPostgres = async (): Promise<Map<number, number>> => {
    const seconds = new Map<number, number>();
    for (const pid of await postgresPids(postgres.db, postgres.database)) {
      const value = cpuSecondsIfAlive(pid);
      if (value !== undefined) seconds.set(pid, value);
    }
    return seconds;
  };
  const readProcesses = (): Record<string, number> => {
    const usage = process.cpuUsage();
    const seconds: Record<string, number> = { runner: (usage.user + usage.system) / 1e6 };
    for (const [name, pid] of Object.entries(pids)) seconds[name] = cpuSecondsIfAlive(pid) ?? 0;
    return seconds;
  };
  const postgresBefore = await readPostgres();
  const before = readProcesses();
  const machineBefore = machineCpu();
  const startedAt = performance.now();
  return async () => {
    const after = readProcesses();
    const machine = machineCpu();
    const wallS = (performance.now() - startedAt) / 1000;
    const postgresAfter = await readPostgres();
    const seconds = Object.fromEntries(Object.entries(after).map(([name, value]) => [name, Math.max(0, value - (before[name] ?? 0))]));
    // A backend that started during the window counts from zero: the worker's pool connects just before.
    seconds.postgres = [...postgresAfter].reduce((sum, [pid, value]) => sum + Math.max(0, value - (postgresBefore.get(pid) ?? 0)), 0);
    const ours = Object.values(seconds).reduce((sum, value) => sum + value, 0);
    const machineBusyPct = (100 * (machine.busy - machineBefore.busy)) / (machine.total - machineBefore.total);
    const oursPct = (100 * ours) / (wallS * cpus().length);
    return { seconds, machineBusyPct, otherPct: Math.max(0, machineBusyPct - oursPct) };
  };
}

/** Share of the two cores busy over `ms`, before any bench process runs: other work skews every figure. */
export async function machineBusyPct(ms: number): Promise<number> {
  const before = machineCpu();
  await sleep(ms);
  const after = machineCpu();
  return (100 * (after.busy - before.busy)) / (after.total - before.total);
}

/** Waits up to `timeoutMs` for the machine to be quiet; returns the last busy share seen. */
export async function waitForQuietMachine(maxBusyPct: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = await machineBusyPct(2000);
    if (busy <= maxBusyPct || Date.now() > deadline) return busy;
    progress(`machine ${fixed(busy, 0)}% busy with other work, waiting for it to settle`);
  }
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a truthy value; fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(check: () => Promise<T>, timeoutMs: number, what: string, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Waits until GET url answers 200, or fails with the tail of the process log. */
export async function waitForHttp(url: string, proc: BenchProcess, timeoutMs = 30_000): Promise<void> {
  try {
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`exited with code ${proc.child.exitCode}`);
        return fetch(url).then(
          (response) => response.status === 200,
          () => false, // not listening yet
        );
      },
      timeoutMs,
      url,
    );
  } catch (error) {
    const log = readFileSync(proc.logFile, 'utf8').slice(-2000);
    throw new Error(`${proc.name} never answered ${url}: ${(error as Error).message}\n${log}`);
  }
}

/** Jobs not finished yet: waiting, active, delayed or prioritized. */
export async function jobsInQueue(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  return Object.values(counts).reduce((sum, value) => sum + value, 0);
}

/** Event ids the worker has claimed: every stored event, whatever the count policy made of it. */
export async function processedEventIds(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('processed_pull_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  eventsPerSecond: number;
}

export function summarize(latenciesMs: number[], wallMs: number): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    eventsPerSecond: (sorted.length / wallMs) * 1000,
  };
}

/** A plain-text table with right-aligned figures, for the terminal and for docs/performance.md. */
export function formatTable(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((row) => row.map((cell) => String(cell)));
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column === 0 ? `-${'-'.repeat(width)}-` : `-${'-'.repeat(width)}:`)).join('|')}|`;
  return [line(headers), rule, ...cells.map(line)].join('\n');
}

export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function thousands(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

/** Prints a line at once (the runner's progress), prefixed so it stands apart from the tables. */
export function progress(message: string): void {
  process.stdout.write(`  .. ${message}\n`);
}
