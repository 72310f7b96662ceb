// Builds pull events and puts them on the real queue, as the receiver would.
import { createHash } from 'node:crypto';
import type { PullEvent } from '@staticreg/events';
import { createPullQueue, createRedisConnection, enqueuePullEvents } from '@staticreg/queue';

export function digestOf(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

export function makePull(id: string, overrides: Partial<PullEvent> = {}): PullEvent {
  return {
    id,
    timestamp: '2026-11-27T09:00:00.123Z',
    pullDate: '2026-11-27',
    repository: 'library/demo',
    tag: '1.0',
    digest: digestOf('demo'),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    architecture: 'amd64',
    method: 'GET',
    userAgent: 'docker/24.0.7 os/linux arch/amd64',
    clientAddress: '10.1.2.3:40000',
    ...overrides,
  };
}

/** `count` events spread over repositories, tags, architectures and days; ids are `${prefix}-${i}`. */
export function spreadPulls(prefix: string, count: number): PullEvent[] {
  const architectures = ['amd64', 'arm64', 'not-specified'];
  return Array.from({ length: count }, (_, i) =>
    makePull(`${prefix}-${i}`, {
      repository: `team-${i % 7}/app-${i % 13}`,
      tag: `v${i % 5}`,
      digest: digestOf(`image-${i % 3}`),
      architecture: architectures[i % 3]!,
      pullDate: `2026-11-${String(20 + (i % 4)).padStart(2, '0')}`,
    }),
  );
}

export async function enqueue(redisUrl: string, events: readonly PullEvent[], chunk = 1000): Promise<void> {
  const redis = createRedisConnection(redisUrl, 'reader');
  const queue = createPullQueue(redis);
  try {
    for (let start = 0; start < events.length; start += chunk) {
      await enqueuePullEvents(queue, events.slice(start, start + chunk));
    }
  } finally {
    await queue.close();
    redis.disconnect();
  }
}
