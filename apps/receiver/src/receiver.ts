// The receiver's parts from its configuration: Redis, the pull queue, metrics, intake counts and the Express app.
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { ReceiverConfig } from '@staticreg/config';
import { FILTERED_REASONS, INVALID_REASONS } from '@staticreg/events';
import { createPullQueue, createRedisConnection, IntakeRecorder } from '@staticreg/queue';
import { createHttpMetrics, createMetricsRegistry, createReceiverEventMetrics } from '@staticreg/observability';
import { createReceiverApp, type ReceiverDeps } from './app.js';

export interface Receiver {
  app: Express;
  /** Answers 503 on /readyz from now on (call before closing the server). */
  shutDown(): void;
  /** Closes what the app uses; call after the server has closed. */
  close(): Promise<void>;
}

/** `overrides` replace deps of the app (the ack bench's synchronous design replaces `deliver`). */
export function createReceiver(config: ReceiverConfig, log: Logger, overrides: Partial<ReceiverDeps> = {}): Receiver {
  const redis = createRedisConnection(config.redisUrl, 'producer');
  const queue = createPullQueue(redis, log);
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
    allowedNetworks: config.allowedNetworks,
    metricsToken: config.metricsToken,
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
    ...overrides,
  });
  return {
    app,
    shutDown() {
      shuttingDown = true;
    },
    async close() {
      await intake.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
