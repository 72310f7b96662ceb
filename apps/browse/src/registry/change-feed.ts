// Follows the registry-changes stream the receiver writes: each push or delete refreshes its repository within
// seconds, instead of waiting for the crawler's next pass.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createRedisConnection, latestRegistryChangeId, readRegistryChanges } from '@staticreg/queue';

export interface ChangeFeedOptions {
  redisUrl: string;
  stream: string;
  log: Logger;
  /** Called once per change, with the time Redis stamped on it (ms). */
  onChange: (repository: string, changedAt: number) => void;
  blockMs?: number;
}

export class ChangeFeed {
  private redis: Redis | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Changes handed on since start (for /api/catalog and tests). */
  received = 0;

  constructor(private readonly options: ChangeFeedOptions) {}

  start(): void {
    // A blocking read needs a connection of its own, one that retries for ever.
    this.redis = createRedisConnection(this.options.redisUrl, 'worker');
    this.loop = this.run(this.redis);
  }

  private async run(redis: Redis): Promise<void> {
    let lastId: string | undefined;
    let failing = false;
    while (!this.stopped) {
      try {
        // From now on: the crawler's passes cover what happened before this replica started.
        lastId ??= await latestRegistryChangeId(redis, this.options.stream);
        const batch = await readRegistryChanges(redis, this.options.stream, lastId, this.options.blockMs ?? 5000);
        lastId = batch.lastId;
        for (const change of batch.changes) {
          this.received += 1;
          this.options.onChange(change.repository, change.streamTime);
        }
        if (failing) this.options.log.info('Reading registry changes again');
        failing = false;
      } catch (error) {
        if (this.stopped) break;
        if (!failing) this.options.log.warn({ err: error }, 'Cannot read registry changes from Redis; the crawler passes still run');
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.redis?.disconnect();
    await this.loop;
  }
}
