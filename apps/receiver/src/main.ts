// Receiver process: read config, connect Redis, serve the webhook, shut down cleanly on SIGTERM.
import { loadReceiverConfig } from '@staticreg/config';
import { createLogger } from '@staticreg/log';
import { FILTERED_REASONS, INVALID_REASONS } from '@staticreg/events';
import { createPullQueue, createRedisConnection, IntakeRecorder } from '@staticreg/queue';
import { createHttpMetrics, createMetricsRegistry, createReceiverEventMetrics } from '@staticreg/observability';
import { closeServer, listen, onShutdownSignal, runMain } from '@staticreg/http';
import { createReceiverApp } from './app.js';

async function main(): Promise<void> {
  const config = loadReceiverConfig();
  const log = createLogger('receiver', config.logLevel);
  const redis = createRedisConnection(config.redisUrl, 'producer');
  const queue = createPullQueue(redis);
  let shuttingDown = false;
  const registry = createMetricsRegistry();
  const intake = new IntakeRecorder(redis);
  intake.start();

  const app = createReceiverApp({
    queue,
    redis,
    log,
    rules: { ignoredUserAgents: config.ignoredUserAgents },
    webhookToken: config.webhookToken,
    bodyLimitBytes: config.bodyLimitBytes,
    enqueueTimeoutMs: config.enqueueTimeoutMs,
    changesStream: config.changesStream,
    isShuttingDown: () => shuttingDown,
    observability: {
      registry,
      http: createHttpMetrics(registry, 'staticreg_receiver'),
      events: createReceiverEventMetrics(registry, [...FILTERED_REASONS, ...INVALID_REASONS]),
      intake,
    },
  });
  const server = await listen(app, config.port, config.bind);
  log.info(
    { port: config.port, bind: config.bind, auth: config.webhookToken ? 'bearer' : 'none', ignoredUserAgents: config.ignoredUserAgents },
    'Receiver listening',
  );

  onShutdownSignal(log, async () => {
    shuttingDown = true;
    await closeServer(server);
    await intake.close();
    await queue.close();
    redis.disconnect();
  });
}

runMain('receiver', main);
