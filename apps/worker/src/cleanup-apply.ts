// `make cleanup-apply`: recompute the cleanup plan and, when confirmed, delete it from the registry; else print it.
import { userInfo } from 'node:os';
import { applyCleanup, planCleanupInSnapshot, planTable, type AppliedDeletion } from '@staticreg/cleanup';
import { loadCleanupApplyConfig, STATICREG_USER_AGENT } from '@staticreg/config';
import { catalogRepositoryCount, createDb, withCleanupApplyLock } from '@staticreg/db';
import { createPullQueue, createRedisConnection, oldestUncountedJobTime } from '@staticreg/queue';
import { runMain } from '@staticreg/http';
import { createRegistryClient } from '@staticreg/registry';
import { loadPolicyOrExit } from './cleanup-policy.js';

const describeAction = ({ deletion, result, detail }: AppliedDeletion): string =>
  `${result.padEnd(12)} ${deletion.repository}@${deletion.digest}${deletion.tags.length > 0 ? ` (${deletion.tags.join(', ')})` : ''}${detail ? `: ${detail}` : ''}\n`;

runMain('cleanup-apply', async () => {
  const config = loadCleanupApplyConfig(process.argv.slice(2));
  const policy = await loadPolicyOrExit(config.policyFile);
  const db = createDb({ url: config.dbUrl, applicationName: 'staticreg-cleanup-apply', maxConnections: 3 });
  const registry = createRegistryClient(config.registry, { userAgent: STATICREG_USER_AGENT });
  let redis: ReturnType<typeof createRedisConnection> | undefined;
  let queue: ReturnType<typeof createPullQueue> | undefined;
  try {
    if ((await catalogRepositoryCount(db)) === 0) {
      process.stderr.write('The registry catalog in Postgres is empty: browse fills it (docs/browse.md). Nothing to apply.\n');
      process.exitCode = 1;
      return;
    }
    const plan = await planCleanupInSnapshot(db, policy, { now: new Date(), retentionDays: config.retentionDays });
    process.stdout.write(planTable(plan));
    if (!config.confirmed) {
      process.stderr.write('Not applied: cleanup apply deletes these manifests only when confirmed (--yes, or CONFIRM=yes with make).\n');
      process.exitCode = 3;
      return;
    }
    const actor = `cli:${userInfo().username}`;
    redis = createRedisConnection(config.redisUrl, 'reader');
    const pullQueue = (queue = createPullQueue(redis));
    const pullBacklog = { oldestWaitingJobTime: () => oldestUncountedJobTime(pullQueue), maxWaitMs: config.pullBacklogMaxWaitMs };
    const outcome = await withCleanupApplyLock(db, (connection) =>
      applyCleanup(connection, registry, plan, {
        actor,
        confirmed: true,
        intervalMs: config.deleteIntervalMs,
        pullBacklog,
        onAction: (action) => process.stdout.write(describeAction(action)),
      }),
    );
    if (!outcome.ran) {
      process.stderr.write('Not applied: another cleanup apply is running (browse, or another make cleanup-apply). Nothing was deleted.\n');
      process.exitCode = 5;
      return;
    }
    const report = outcome.value;
    if (report.refused) {
      process.stderr.write(`Refused: ${report.refused.refusal === 'deletes-disabled' ? 'the registry does not allow deletes' : 'the registry credential may not delete'} (it answered ${report.refused.answer}). Nothing was deleted.\n`);
      process.exitCode = 4;
      return;
    }
    process.stdout.write(`Applied: ${report.deleted} deleted, ${report.skipped} skipped, ${report.failed} failed. Run the registry's garbage-collect to reclaim the space (docs/cleanup.md).\n`);
    if (report.stopped) {
      process.stderr.write(`Stopped early: ${report.stopped}\n`);
      process.exitCode = 1;
    } else if (report.failed > 0) process.exitCode = 1;
  } finally {
    await queue?.close();
    redis?.disconnect();
    await registry.close();
    await db.destroy();
  }
});
