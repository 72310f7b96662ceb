// Builds pull events and puts them on the real queue, as the receiver would.
import { createHash } from 'node:crypto';
import { utcDayOf, type PullEvent } from '@staticreg/events';
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

const SESSION_USER_AGENTS = [
  'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/arm64 UpstreamClient(Docker-Client/24.0.7 \\(linux\\))',
  'containerd/v1.7.11',
  'skopeo/1.9.3',
  'cri-o/1.34.0 go/go1.25.0 os/linux arch/amd64',
];
const INDEX = 'application/vnd.oci.image.index.v1+json';
const IMAGE = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Realistic manifest traffic of `clients` clients, each pulling twice a minute apart, in the request patterns of
 * docker/containerd (HEAD tag, GET index, GET image), an up-to-date check (HEAD only), a digest-pinned kubelet
 * (GET index by digest, GET image) and skopeo (GET tag of a single-arch image). Sorted by time, as a registry sends.
 */
export function sessionTraffic(prefix: string, clients: number, start = Date.parse('2026-11-27T10:00:00Z')): PullEvent[] {
  const events: PullEvent[] = [];
  for (let c = 0; c < clients; c += 1) {
    const repository = `team-${c % 5}/app`;
    const index = digestOf(`${repository}:index`);
    const child = digestOf(`${repository}:child-${c % 2}`);
    const single = digestOf(`${repository}:single`);
    const userAgent = SESSION_USER_AGENTS[c % SESSION_USER_AGENTS.length]!;
    const architecture = /arch\/(\w+)/.exec(userAgent)?.[1] ?? 'not-specified';
    const clientAddress = `10.0.${Math.floor(c / 250)}.${c % 250}:${40000 + c}`;
    const steps: Array<[number, string, string, string, string]> =
      c % 4 === 0
        ? [[0, 'HEAD', index, 'latest', INDEX], [20, 'GET', index, '', INDEX], [45, 'GET', child, '', IMAGE]]
        : c % 4 === 1
          ? [[0, 'HEAD', index, 'latest', INDEX]]
          : c % 4 === 2
            ? [[0, 'GET', index, '', INDEX], [30, 'GET', child, '', IMAGE]]
            : [[0, 'GET', single, 'v1', IMAGE]];
    for (const round of [0, 1]) {
      for (const [offset, method, digest, tag, mediaType] of steps) {
        const time = start + c * 37 + round * 60_000 + offset;
        const timestamp = new Date(time).toISOString();
        events.push({
          id: `${prefix}-${c}-${round}-${offset}`,
          timestamp,
          pullDate: utcDayOf(time),
          repository,
          tag,
          digest,
          mediaType,
          architecture,
          method,
          userAgent,
          clientAddress,
        });
      }
    }
  }
  return events.sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.id.localeCompare(b.id));
}
