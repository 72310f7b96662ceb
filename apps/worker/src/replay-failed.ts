// `make replay-failed`: put failed pull jobs back to wait, chosen by when and why they failed, and print them.
import { loadReplayFailedConfig } from '@staticreg/config';
import { runMain } from '@staticreg/http';
import { createPullQueue, createRedisConnection, replayFailedPullJobs, type ReplayedJob } from '@staticreg/queue';

const COLUMNS: ReadonlyArray<[string, (job: ReplayedJob) => string]> = [
  ['FAILED AT (UTC)', (job) => job.failedAt.slice(0, 19).replace('T', ' ')],
  ['JOB', (job) => job.jobId],
  ['EVENT', (job) => job.eventId ?? '-'],
  ['IMAGE', (job) => (job.repository ? `${job.repository}:${job.tag || '(digest)'}` : '-')],
  // Last column, so a long reason runs on without pushing the others; one line per job whatever it holds.
  ['REASON', (job) => job.failedReason.replace(/\s+/g, ' ')],
];

function formatReplayTable(jobs: readonly ReplayedJob[]): string {
  const cells = jobs.map((job) => COLUMNS.map(([, value]) => value(job)));
  const widths = COLUMNS.map(([header], i) => Math.max(header.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  return [line(COLUMNS.map(([header]) => header)), ...cells.map(line)].join('\n');
}

runMain('replay-failed', async () => {
  const config = loadReplayFailedConfig(process.argv.slice(2));
  const redis = createRedisConnection(config.redisUrl, 'reader');
  const queue = createPullQueue(redis);
  try {
    const { replayed } = await replayFailedPullJobs(
      queue,
      redis,
      { failedSince: config.failedSince, failedUntil: config.failedUntil, reason: config.reason, limit: config.limit },
      { dryRun: config.dryRun },
    );
    if (replayed.length > 0) process.stdout.write(`${formatReplayTable(replayed)}\n`);
    const jobs = `${replayed.length} failed job${replayed.length === 1 ? '' : 's'}`;
    process.stdout.write(config.dryRun ? `Dry run: ${jobs} would be replayed; nothing was replayed.\n` : `Replayed ${jobs}.\n`);
  } finally {
    await queue.close();
    redis.disconnect();
  }
});
