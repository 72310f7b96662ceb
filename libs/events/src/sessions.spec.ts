import { expect } from 'chai';
import { loadScenario } from '../../../test/support/fixtures.js';
import { evaluateEvent, type PullEvent } from './rules.js';
import { uniqueById, type CountKind, type KindedCountChange } from './aggregate.js';
import {
  clientHost,
  countDelta,
  countSession,
  splitSessions,
  sumCounts,
  toSessionEvent,
  type ManifestInfo,
  type SessionEvent,
} from './sessions.js';

const rules = { ignoredUserAgents: ['staticreg/'] };
const WINDOW = 10_000;

// What the registry holds for the captured images (library/multi is an index of amd64, arm64/v8 and arm/v7).
const MULTI = 'sha256:fe07d3fb2d70e67cd2e9ef2114e7bd960435a6128ad96e6504069bd113745db0';
const MULTI_AMD64 = 'sha256:65162beb68f1a637f80f026846cf5ddd68040f33f892024a58a5d6a446c7449e';
const MULTI_ARM64 = 'sha256:8ea0f57834f277b3671d1c5d8cac099a739e1481bd5f7e8f768017139ff49920';
const MULTI_ARMV7 = 'sha256:e198d3cc5cd7282a40b33788039a0af42fbf0d35edd68236e674f1b6d404765d';
const DEMO = 'sha256:14fb41572c028a4ee4275003ca13e004abf7b64a874c6161d5adc43fced5d1b8';
// As the worker's resolver stores it: an index with its children, and each child's platform once the index is read.
const REGISTRY: Record<string, ManifestInfo> = {
  [MULTI]: { kind: 'index', children: new Map([[MULTI_AMD64, 'amd64'], [MULTI_ARM64, 'arm64'], [MULTI_ARMV7, 'arm/v7']]) },
  [MULTI_AMD64]: { kind: 'image', platform: 'amd64' },
  [MULTI_ARM64]: { kind: 'image', platform: 'arm64' },
  [MULTI_ARMV7]: { kind: 'image', platform: 'arm/v7' },
  [DEMO]: { kind: 'image', platform: 'amd64' },
};
const knowsAll = (digest: string) => REGISTRY[digest];
const knowsNothing = () => undefined;

/** The manifest events of a captured scenario, as the session rules see them. */
function scenarioEvents(scenario: string): SessionEvent[] {
  const accepted = loadScenario(scenario)
    .map((file) => evaluateEvent(file.body.events[0], rules))
    .flatMap((verdict) => (verdict.accepted ? [verdict.event] : []));
  return uniqueById(accepted).map(toSessionEvent);
}

/** Counts every session of every client, summed, as compact strings "kind repo:tag@digest arch xN". */
function countAll(events: SessionEvent[], lookup: (digest: string) => ManifestInfo | undefined = knowsAll): string[] {
  const byClient = new Map<string, SessionEvent[]>();
  for (const event of events) byClient.set(event.clientKey, [...(byClient.get(event.clientKey) ?? []), event]);
  const counts = [...byClient.values()].flatMap((clientEvents) =>
    splitSessions(clientEvents, WINDOW).flatMap((session) => countSession(session, lookup)),
  );
  return sumCounts(counts).map(show).sort();
}

function show(count: KindedCountChange): string {
  return `${count.kind} ${count.repository}:${count.tag}@${count.digest.slice(7, 13)} ${count.architecture} x${count.count}`;
}

describe('session policy over the captured scenarios', () => {
  const expectations: Array<[string, string[], string[]?]> = [
    // [scenario, counts with the registry's answers, counts when nothing could be looked up (if different)]
    ['pull-multiarch-docker-style', ['pull library/multi:1.0@fe07d3 arm64 x1', 'pull library/refs:@fe07d3 arm64 x1']],
    [
      'pull-index-all',
      ['pull library/multi:1.0@fe07d3 amd64 x1', 'pull library/multi:1.0@fe07d3 arm/v7 x1', 'pull library/multi:1.0@fe07d3 arm64 x1'],
      ['pull library/multi:1.0@fe07d3 not-specified x3'],
    ],
    ['pull-by-tag-skopeo', ['pull library/demo:1.0@14fb41 amd64 x1'], ['pull library/demo:1.0@14fb41 not-specified x1']],
    ['pull-by-tag-docker-ua', ['pull library/demo:1.0@14fb41 amd64 x1'], ['pull library/demo:1.0@14fb41 arm64 x1']],
    ['pull-by-digest', ['pull library/demo:@14fb41 amd64 x1'], ['pull library/demo:@14fb41 not-specified x1']],
    ['head-manifest', ['check library/demo:1.0@14fb41 amd64 x1'], ['check library/demo:1.0@14fb41 arm64 x1']],
    ['head-manifest-by-digest', ['check library/demo:@14fb41 amd64 x1'], ['check library/demo:@14fb41 arm64 x1']],
    ['blob-pull', []],
    ['blob-head', []],
    ['push-index-all', []],
    ['push-single-arch', []],
    ['delete', []],
    ['mount-cross-repo', []],
  ];
  for (const [scenario, withRegistry, withoutRegistry] of expectations) {
    it(`${scenario}: ${withRegistry.length === 0 ? 'nothing' : withRegistry.join('; ')}`, () => {
      const events = scenarioEvents(scenario);
      expect(countAll(events)).to.deep.equal(withRegistry);
      expect(countAll(events, knowsNothing)).to.deep.equal(withoutRegistry ?? withRegistry);
    });
  }
});

// A small language for client request sequences: [offset ms, method, digest, tag].
type Step = [number, 'GET' | 'HEAD', string, string?];
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
const IMAGE_TYPE = 'application/vnd.oci.image.manifest.v1+json';

function client(steps: Step[], options: { key?: string; ua?: string; start?: number } = {}): SessionEvent[] {
  const start = options.start ?? Date.parse('2026-11-27T12:00:00Z');
  return steps.map(([offset, method, digest, tag], i) => ({
    id: `${options.key ?? 'c'}-${i}`,
    time: start + offset,
    clientKey: options.key ?? 'c',
    repository: 'library/multi',
    method,
    mediaType: digest === MULTI ? INDEX_TYPE : IMAGE_TYPE,
    digest,
    tag: tag ?? '',
    userAgentArchitecture: options.ua ?? 'not-specified',
  }));
}

describe('session policy over client request sequences', () => {
  const cases: Array<[string, Step[], string[]]> = [
    ['docker/containerd: HEAD tag, GET index, GET image', [[0, 'HEAD', MULTI, '1.0'], [20, 'GET', MULTI], [60, 'GET', MULTI_ARM64]], ['pull library/multi:1.0@fe07d3 arm64 x1']],
    ['the same, up to date: HEAD only', [[0, 'HEAD', MULTI, '1.0']], ['check library/multi:1.0@fe07d3 not-specified x1']],
    ['kubelet, digest pinned: GET index by digest, GET image', [[0, 'GET', MULTI], [30, 'GET', MULTI_AMD64]], ['pull library/multi:@fe07d3 amd64 x1']],
    ['podman/skopeo: GET tag (index), GET image', [[0, 'GET', MULTI, '1.0'], [30, 'GET', MULTI_ARMV7]], ['pull library/multi:1.0@fe07d3 arm/v7 x1']],
    ['skopeo inspect --raw: GET index only', [[0, 'GET', MULTI, '1.0']], ['pull library/multi:1.0@fe07d3 not-specified x1']],
    ['crane digest: HEAD by digest', [[0, 'HEAD', MULTI_AMD64]], ['check library/multi:@65162b amd64 x1']],
    ['an image fetched twice in one session counts once', [[0, 'GET', MULTI_AMD64], [500, 'GET', MULTI_AMD64]], ['pull library/multi:@65162b amd64 x1']],
    [
      'two pulls more than the window apart are two sessions',
      [[0, 'HEAD', MULTI, '1.0'], [10, 'GET', MULTI_ARM64], [10_011, 'HEAD', MULTI, '1.0'], [10_020, 'GET', MULTI_ARM64]],
      ['pull library/multi:1.0@fe07d3 arm64 x2'],
    ],
    [
      'requests within the window of the previous one chain into one session',
      [[0, 'HEAD', MULTI, '1.0'], [9_000, 'HEAD', MULTI, '1.0'], [18_000, 'GET', MULTI_AMD64]],
      ['pull library/multi:1.0@fe07d3 amd64 x1'],
    ],
    [
      'a tag checked and another image pulled in one session: one check and one pull',
      [[0, 'HEAD', MULTI, 'latest'], [50, 'GET', DEMO, 'other']],
      ['check library/multi:latest@fe07d3 not-specified x1', 'pull library/multi:other@14fb41 amd64 x1'],
    ],
  ];
  for (const [what, steps, expected] of cases) {
    it(what, () => {
      expect(countAll(client(steps))).to.deep.equal(expected);
    });
  }

  it('dates each pull by the request that downloaded it, in UTC', () => {
    const start = Date.parse('2026-11-27T15:59:55-08:00');
    const counts = countSession(client([[0, 'HEAD', MULTI, '1.0'], [6_000, 'GET', MULTI_ARM64]], { start }), knowsAll);
    expect(counts.map((count) => count.pullDate)).to.deep.equal(['2026-11-28']);
  });

  it('falls back to the User-Agent architecture when the registry cannot say, then to not-specified', () => {
    expect(countAll(client([[0, 'GET', MULTI_ARM64]], { ua: 'arm64' }), knowsNothing)).to.deep.equal(['pull library/multi:@8ea0f5 arm64 x1']);
    expect(countAll(client([[0, 'GET', MULTI_ARM64]]), knowsNothing)).to.deep.equal(['pull library/multi:@8ea0f5 not-specified x1']);
  });

  it('gives the same sessions whatever order the events arrive in', () => {
    const events = [
      ...client([[0, 'HEAD', MULTI, '1.0'], [20, 'GET', MULTI], [60, 'GET', MULTI_ARM64]], { key: 'a' }),
      ...client([[0, 'HEAD', MULTI, '1.0'], [15_000, 'HEAD', MULTI, '1.0']], { key: 'b' }),
    ];
    const forwards = countAll(events);
    expect(countAll([...events].reverse())).to.deep.equal(forwards);
    expect(forwards).to.deep.equal(['check library/multi:1.0@fe07d3 not-specified x2', 'pull library/multi:1.0@fe07d3 arm64 x1']);
  });
});

describe('countDelta', () => {
  const row = (kind: CountKind, tag: string, count: number): KindedCountChange => ({
    kind,
    pullDate: '2026-11-27',
    repository: 'r',
    tag,
    digest: 'sha256:x',
    architecture: 'amd64',
    count,
  });

  it('takes back what a recomputed session no longer counts and adds what it newly counts', () => {
    // A HEAD alone was a check; the GET that arrived later turns the session into a pull.
    const delta = countDelta([row('check', '1.0', 1)], [row('pull', '1.0', 1)]);
    expect(delta).to.deep.equal([row('pull', '1.0', 1), row('check', '1.0', -1)]);
  });

  it('leaves out rows that do not change', () => {
    expect(countDelta([row('pull', 'a', 2), row('pull', 'b', 1)], [row('pull', 'b', 1), row('pull', 'a', 2)])).to.deep.equal([]);
  });
});

describe('clientHost', () => {
  for (const [address, host] of [
    ['127.0.0.1:49246', '127.0.0.1'],
    ['203.0.113.7', '203.0.113.7'],
    ['[::1]:5000', '::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['', ''],
  ]) {
    it(`${JSON.stringify(address)} -> ${JSON.stringify(host)}`, () => expect(clientHost(address!)).to.equal(host));
  }

  it('puts requests from one host on new connections into one client', () => {
    const event = (addr: string): PullEvent => {
      const verdict = evaluateEvent({ ...structuredClone(loadScenario('head-manifest')[0]!.body.events[0]), request: { addr, method: 'HEAD', useragent: 'x' } }, rules);
      if (!verdict.accepted) throw new Error(verdict.reason);
      return verdict.event;
    };
    expect(toSessionEvent(event('10.0.0.1:1000')).clientKey).to.equal(toSessionEvent(event('10.0.0.1:2000')).clientKey);
    expect(toSessionEvent(event('10.0.0.1:1000')).clientKey).to.not.equal(toSessionEvent(event('10.0.0.2:1000')).clientKey);
  });
});

describe('session boundaries', () => {
  it('starts a new session at every UTC hour, so a client polling faster than the window gets a check an hour', () => {
    const start = Date.parse('2026-11-27T10:58:00Z');
    const steps: Step[] = Array.from({ length: 60 }, (_, i) => [i * 5_000, 'HEAD', MULTI, '1.0'] as Step);
    const sessions = splitSessions(client(steps, { start }), WINDOW);
    expect(sessions.map((session) => session.length)).to.deep.equal([24, 36]);
    expect(countAll(client(steps, { start }))).to.deep.equal(['check library/multi:1.0@fe07d3 not-specified x2']);
  });

  it('keeps a session within the window and the hour together', () => {
    const start = Date.parse('2026-11-27T10:00:00Z');
    const steps: Step[] = Array.from({ length: 700 }, (_, i) => [i * 5_000, 'HEAD', MULTI, '1.0'] as Step);
    expect(splitSessions(client(steps, { start }), WINDOW).map((session) => session.length)).to.deep.equal([700]);
  });
});
