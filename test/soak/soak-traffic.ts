// The soak's traffic and its reference counts, written without the production counting rules.
import { createHash, randomBytes } from 'node:crypto';
import { seededRandom } from '../support/random.js';
import type { SentPull } from '../support/notification-sender.js';

/** Real client User-Agents, each with the architecture a reader of docs/counting.md expects from it. */
const CLIENTS: ReadonlyArray<{ userAgent: string; architecture: string }> = [
  {
    userAgent: 'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/amd64 UpstreamClient(Docker-Client/24.0.7 \\(linux\\))',
    architecture: 'amd64',
  },
  {
    userAgent: 'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/arm64 UpstreamClient(Docker-Client/24.0.7 \\(linux\\))',
    architecture: 'arm64',
  },
  { userAgent: 'cri-o/1.34.0 go/go1.25.0 os/linux arch/amd64', architecture: 'amd64' },
  { userAgent: 'containerd/v1.7.11', architecture: 'not-specified' },
  { userAgent: 'skopeo/1.9.3', architecture: 'not-specified' },
];

const IMAGE_MEDIA_TYPES = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json'];
const TAGS = ['latest', '1.0', '1.1', '2.0-rc.1'];
const REPOSITORIES = 12;
/** Event times spread over the last 36 hours, so the counts fall on two or three UTC days. */
const SPREAD_MS = 36 * 3600 * 1000;

export interface PlannedPull extends SentPull {
  /** What the reference expects as the row's architecture. */
  expectedArchitecture: string;
}

/**
 * `count` GETs by tag of single-image manifests for sender `sender`: under either count policy each is one pull of
 * (UTC day, repository, tag, digest, architecture of the User-Agent). Every event has its own client address, so
 * no two events are one client's session.
 */
export function plannedPulls(sender: number, count: number, seed: number, now = Date.now()): PlannedPull[] {
  const random = seededRandom(seed * 7919 + sender);
  const run = randomBytes(4).toString('hex');
  return Array.from({ length: count }, (_, i) => {
    const r = Math.floor(random() * REPOSITORIES);
    const repository = `team-${r % 4}/app-${r}`;
    const tag = TAGS[Math.floor(random() * TAGS.length)]!;
    // Two digests per tag: the tag moved once during the day.
    const digest = `sha256:${createHash('sha256').update(`${repository}:${tag}:${Math.floor(random() * 2)}`).digest('hex')}`;
    const client = CLIENTS[Math.floor(random() * CLIENTS.length)]!;
    const timestamp = new Date(now - Math.floor(random() * SPREAD_MS)).toISOString();
    return {
      id: `${run}-${sender}-${i}`,
      timestamp,
      repository,
      tag,
      digest,
      mediaType: IMAGE_MEDIA_TYPES[i % IMAGE_MEDIA_TYPES.length]!,
      userAgent: client.userAgent,
      clientAddress: `10.${sender}.${(i >> 8) & 255}.${i & 255}:${20000 + (i % 40000)}`,
      expectedArchitecture: client.architecture,
    };
  });
}

/** "day|repository|tag|digest|architecture" -> number of distinct acknowledged event ids. */
export function referenceCounts(acknowledged: Iterable<PlannedPull>): Map<string, number> {
  const idsByRow = new Map<string, Set<string>>();
  for (const pull of acknowledged) {
    const row = rowKey(pull.timestamp.slice(0, 10), pull.repository, pull.tag, pull.digest, pull.expectedArchitecture);
    const ids = idsByRow.get(row) ?? new Set<string>();
    ids.add(pull.id);
    idsByRow.set(row, ids);
  }
  return new Map([...idsByRow].map(([row, ids]) => [row, ids.size]));
}

export function rowKey(day: string, repository: string, tag: string, digest: string, architecture: string): string {
  return [day, repository, tag, digest, architecture].join('|');
}

/** Rows that differ between the reference and the database, for a readable failure. */
export function differences(expected: Map<string, number>, actual: Map<string, number>): string[] {
  const lines: string[] = [];
  for (const [row, count] of expected) {
    const found = actual.get(row) ?? 0;
    if (found !== count) lines.push(`${row}: expected ${count}, stored ${found}`);
  }
  for (const [row, count] of actual) if (!expected.has(row)) lines.push(`${row}: expected 0, stored ${count}`);
  return lines;
}
