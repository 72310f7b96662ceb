// The benchmarks' input: a captured registry notification body, and realistic varied pull events built from it.
import { createHash, randomUUID } from 'node:crypto';
import { DAY_MS, evaluateEvent, type PullEvent } from '@staticreg/events';
import { STATICREG_USER_AGENT_PRODUCT } from '@staticreg/config';
import { loadScenario } from '../test/support/fixtures.js';
import { seededRandom } from '../test/support/random.js';

export const REGISTRY_CONTENT_TYPE = 'application/vnd.docker.distribution.events.v1+json';
/** The rules the receiver applies by default, so every bench path filters alike. */
export const DEFAULT_RULES = { ignoredUserAgents: [STATICREG_USER_AGENT_PRODUCT] };

export interface CapturedBody {
  /** The body exactly as Docker Distribution 2.8.2 POSTed it (one GET manifest pull by tag). */
  raw: string;
  eventId: string;
  event: Record<string, any>;
}

export function loadCapturedPull(): CapturedBody {
  const file = loadScenario('pull-by-tag-docker-ua').find((fixture) => fixture.file === '01-pull.json');
  if (!file) throw new Error('fixture pull-by-tag-docker-ua/01-pull.json is missing');
  const event = file.body.events[0]!;
  return { raw: file.raw, eventId: event.id as string, event };
}

/**
 * The captured body byte for byte but for a fresh event id and a client address of its own, as distinct registry
 * events from many clients would be (the session count policy groups one client's events; the address keeps every
 * request a separate client, so each one is a pull of its own).
 */
export function freshBody(captured: CapturedBody, index: number): string {
  const address = captured.event.request.addr as string;
  return captured.raw
    .replace(captured.eventId, randomUUID())
    .replace(`"${address}"`, `"10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}:${40000 + (index % 20000)}"`);
}

/** mulberry32: a small seeded generator, so every run enqueues the same mix of events. */
const ORGANISATIONS = ['library', 'platform', 'data', 'ml', 'web', 'infra', 'tools', 'ops', 'payments', 'search'];
const SERVICES = ['api', 'gateway', 'worker', 'scheduler', 'frontend', 'indexer', 'exporter', 'proxy', 'cache', 'ingest'];
const TAGS = ['latest', 'stable', '1.0', '1.1', '1.2', '2.0', '2.1.3', '3.4.1', 'edge', 'v20261127'];
/** docker's User-Agent carries GOARCH; the share of each is roughly what a mixed fleet pulls. */
const ARCHITECTURES: Array<{ goarch: string; share: number }> = [
  { goarch: 'amd64', share: 0.65 },
  { goarch: 'arm64', share: 0.3 },
  { goarch: 'arm', share: 0.05 },
];
const DAYS = ['2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27'];

export interface EventMixOptions {
  count: number;
  repositories?: number;
  seed?: number;
}

export interface EventMix {
  events: PullEvent[];
  repositories: number;
  /** Distinct (day, repository, tag, digest, architecture) keys: the rows the events end up in. */
  distinctKeys: number;
}

/**
 * Pull events as the receiver would enqueue them: registry events built from the captured one with varied
 * repositories (a few popular, a long tail), 2-6 tags each, three architectures and four days, each passed
 * through the real rules.
 */
export function generatePullEvents(options: EventMixOptions, captured: CapturedBody = loadCapturedPull()): EventMix {
  const random = seededRandom(options.seed ?? 20261127);
  const repositoryCount = options.repositories ?? 300;
  const repositories = Array.from({ length: repositoryCount }, (_, index) => {
    const name = `${ORGANISATIONS[index % ORGANISATIONS.length]}/${SERVICES[Math.floor(index / ORGANISATIONS.length) % SERVICES.length]}-${index}`;
    const tags = TAGS.slice(0, 2 + (index % 5));
    return { name, tags };
  });
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const architecture = (): string => {
    let roll = random();
    for (const entry of ARCHITECTURES) {
      roll -= entry.share;
      if (roll < 0) return entry.goarch;
    }
    return ARCHITECTURES[0]!.goarch;
  };
  const template = JSON.stringify(captured.event);
  const userAgentTemplate = captured.event.request.useragent as string;

  const events: PullEvent[] = [];
  const keys = new Set<string>();
  for (let index = 0; index < options.count; index += 1) {
    // Squaring a uniform draw skews towards the first repositories: a few are pulled far more often.
    const repository = repositories[Math.floor(random() * random() * repositoryCount)]!;
    const tag = random() < 0.4 ? repository.tags[0]! : pick(repository.tags);
    const digest = `sha256:${createHash('sha256').update(`${repository.name}:${tag}`).digest('hex')}`;
    const day = pick(DAYS);
    const seconds = Math.floor(random() * (DAY_MS / 1000));
    const time = `${String(Math.floor(seconds / 3600)).padStart(2, '0')}:${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
    const raw = JSON.parse(template);
    raw.id = randomUUID();
    raw.timestamp = `${day}T${time}.${String(Math.floor(random() * 1e9)).padStart(9, '0')}Z`;
    raw.target.repository = repository.name;
    raw.target.tag = tag;
    raw.target.digest = digest;
    raw.target.url = `http://registry.example:5000/v2/${repository.name}/manifests/${digest}`;
    raw.request.id = randomUUID();
    raw.request.addr = `10.0.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}:${30000 + Math.floor(random() * 30000)}`;
    raw.request.useragent = userAgentTemplate.replace('arch/arm64', `arch/${architecture()}`);
    const verdict = evaluateEvent(raw, DEFAULT_RULES);
    if (!verdict.accepted) throw new Error(`generated event rejected: ${verdict.reason}`);
    events.push(verdict.event);
    const event = verdict.event;
    keys.add([event.pullDate, event.repository, event.tag, event.digest, event.architecture].join('\u0000'));
  }
  return { events, repositories: repositoryCount, distinctKeys: keys.size };
}
