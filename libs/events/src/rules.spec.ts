import { expect } from 'chai';
import { loadScenario, scenarios } from '../../../test/support/fixtures.js';
import { evaluateEvent, eventTimeMs, type RuleOptions } from './rules.js';
import { evaluateEnvelope } from './envelope.js';

const rules: RuleOptions = { ignoredUserAgents: ['staticreg/'] };
const DOCKER_ARM64_UA =
  'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/arm64 UpstreamClient(Docker-Client/24.0.7 \\(linux\\))';

// Per scenario, each file's verdict: an accepted event as "repository:tag@arch" (tag '' by digest), or the skip reason.
const EXPECTED: Record<string, string[]> = {
  'blob-head': ['not-manifest'],
  'blob-pull': ['not-manifest'],
  delete: ['not-pull', 'not-pull', 'not-pull'],
  'head-manifest': ['library/demo:1.0@arm64'],
  'head-manifest-by-digest': ['library/demo:@arm64'],
  'mount-cross-repo': ['not-pull'],
  'pull-by-digest': ['library/demo:@not-specified', 'not-manifest', 'not-manifest'],
  'pull-by-tag-docker-ua': ['library/demo:1.0@arm64'],
  'pull-by-tag-skopeo': ['library/demo:1.0@not-specified', 'not-manifest', 'not-manifest'],
  'pull-index-all': [
    'library/multi:1.0@not-specified',
    ...Array(3).fill(['library/multi:@not-specified', 'not-manifest', 'not-manifest']).flat(),
  ],
  'pull-multiarch-docker-style': [
    'library/multi:1.0@arm64',
    'library/multi:@arm64',
    'library/multi:@arm64',
    'not-manifest',
    'not-manifest',
    ...Array(4).fill('library/refs:@arm64'),
    ...Array(4).fill('not-manifest'),
  ],
  // A push HEADs blobs that exist elsewhere: those arrive as blob "pulls".
  'push-index-all': ['not-manifest', 'not-pull', 'not-pull', 'not-pull', 'not-manifest', ...Array(7).fill('not-pull')],
  'push-single-arch': Array(3).fill('not-pull'),
  'push-single-arch-oci': Array(3).fill('not-pull'),
};

function verdictOf(event: unknown, options: RuleOptions = rules): string {
  const verdict = evaluateEvent(event, options);
  return verdict.accepted ? `${verdict.event.repository}:${verdict.event.tag}@${verdict.event.architecture}` : verdict.reason;
}

function firstPull(): Record<string, any> {
  return structuredClone(loadScenario('pull-by-tag-docker-ua')[0]!.body.events[0]!);
}

describe('counting rules (events policy)', () => {
  it('has an expectation for every captured scenario', () => {
    expect(Object.keys(EXPECTED).sort()).to.deep.equal(scenarios());
  });

  for (const scenario of Object.keys(EXPECTED)) {
    it(`classifies every event of ${scenario}`, () => {
      const files = loadScenario(scenario);
      const verdicts = files.map((file) => {
        expect(file.body.events, file.file).to.have.length(1);
        return verdictOf(file.body.events[0]);
      });
      expect(verdicts).to.deep.equal(EXPECTED[scenario]);
    });
  }

  it('keeps every field the worker and later rules need', () => {
    const verdict = evaluateEvent(firstPull(), rules);
    expect(verdict).to.deep.equal({
      accepted: true,
      event: {
        id: 'a8996923-6109-4337-80cc-9b60e76ac2d0',
        timestamp: '2026-11-27T09:02:14.824356532Z',
        pullDate: '2026-11-27',
        time: Date.UTC(2026, 10, 27, 9, 2, 14, 824),
        repository: 'library/demo',
        tag: '1.0',
        digest: firstPull().target.digest,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        architecture: 'arm64',
        method: 'GET',
        userAgent: DOCKER_ARM64_UA,
        clientAddress: firstPull().request.addr,
      },
    });
  });

  it('dates a pull by its own timestamp in UTC, not by its arrival', () => {
    const event = firstPull();
    event.timestamp = '2026-11-27T20:30:00.5-08:00';
    const verdict = evaluateEvent(event, rules);
    expect(verdict.accepted && verdict.event.pullDate).to.equal('2026-11-28');
  });

  it('takes a leap second as the last millisecond of the second before, on the same UTC day', () => {
    const event = firstPull();
    event.timestamp = '2016-12-31T23:59:60.25Z';
    const verdict = evaluateEvent(event, rules);
    expect(verdict.accepted && [verdict.event.time, verdict.event.pullDate]).to.deep.equal([Date.UTC(2016, 11, 31, 23, 59, 59, 999), '2016-12-31']);
    // Kept as sent: the timestamp is the registry's, the time is ours.
    expect(verdict.accepted && verdict.event.timestamp).to.equal('2016-12-31T23:59:60.25Z');
  });

  it('gives the time the rules parsed, or parses again the timestamp of a job queued without one', () => {
    const verdict = evaluateEvent(firstPull(), rules);
    if (!verdict.accepted) throw new Error(verdict.reason);
    expect(eventTimeMs({ ...verdict.event, timestamp: 'not read when time is there' })).to.equal(Date.UTC(2026, 10, 27, 9, 2, 14, 824));
    // An older receiver queued { v: 1, event } without `time`.
    const { time: _time, ...older } = { ...verdict.event, timestamp: '2016-12-31T23:59:60Z' };
    expect(eventTimeMs(older)).to.equal(Date.UTC(2016, 11, 31, 23, 59, 59, 999));
    expect(() => eventTimeMs({ ...older, timestamp: 'yesterday' })).to.throw(/timestamp "yesterday" is not RFC 3339/);
  });

  it('skips events from ignored User-Agents, by substring', () => {
    const event = firstPull();
    event.request.useragent = 'staticreg/0.1.0 (+https://github.com/staticreg/staticreg)';
    expect(verdictOf(event)).to.equal('ignored-user-agent');
    expect(verdictOf(firstPull(), { ignoredUserAgents: ['git-commit/311b9ff'] })).to.equal('ignored-user-agent');
    expect(verdictOf(event, { ignoredUserAgents: [] })).to.equal('library/demo:1.0@not-specified');
  });

  const invalid: Array<[string, (event: Record<string, any>) => void, string]> = [
    ['HTML in the repository', (e) => (e.target.repository = 'library/<script>alert(1)</script>'), 'invalid-repository'],
    ['an upper-case repository', (e) => (e.target.repository = 'Library/Demo'), 'invalid-repository'],
    ['a missing repository', (e) => delete e.target.repository, 'invalid-repository'],
    ['a 256-character repository', (e) => (e.target.repository = 'a'.repeat(256)), 'invalid-repository'],
    ['a tag with a slash', (e) => (e.target.tag = 'v1/evil'), 'invalid-tag'],
    ['a 129-character tag', (e) => (e.target.tag = 'a'.repeat(129)), 'invalid-tag'],
    ['a tag starting with a dot', (e) => (e.target.tag = '.hidden'), 'invalid-tag'],
    ['a short sha256 digest', (e) => (e.target.digest = 'sha256:abc'), 'invalid-digest'],
    ['a missing digest', (e) => delete e.target.digest, 'invalid-digest'],
    ['a timestamp without zone', (e) => (e.timestamp = '2026-11-27T09:02:14'), 'invalid-timestamp'],
    ['a 31st of November', (e) => (e.timestamp = '2026-11-31T09:02:14Z'), 'invalid-timestamp'],
    ['a numeric timestamp', (e) => (e.timestamp = 1764234134), 'invalid-timestamp'],
    ['no id', (e) => delete e.id, 'missing-id'],
    ['an empty id', (e) => (e.id = ''), 'missing-id'],
    ['a push', (e) => (e.action = 'push'), 'not-pull'],
    ['a blob', (e) => (e.target.mediaType = 'application/octet-stream'), 'not-manifest'],
    ['a schema1 manifest', (e) => (e.target.mediaType = 'application/vnd.docker.distribution.manifest.v1+prettyjws'), 'not-manifest'],
    ['no target', (e) => delete e.target, 'not-manifest'],
  ];
  for (const [what, mutate, reason] of invalid) {
    it(`skips an event with ${what} (${reason})`, () => {
      const event = firstPull();
      mutate(event);
      expect(verdictOf(event)).to.equal(reason);
    });
  }

  it('accepts the longest valid names', () => {
    const event = firstPull();
    event.target.repository = `${'a'.repeat(100)}/b__c-d.e/${'f'.repeat(100)}`;
    event.target.tag = `V_${'x'.repeat(126)}`;
    expect(verdictOf(event)).to.equal(`${event.target.repository}:${event.target.tag}@arm64`);
  });
});

describe('envelope evaluation', () => {
  it('refuses bodies that are not {"events": [...]}', () => {
    for (const body of [null, [], 'events', 42, {}, { events: {} }, { events: 'x' }]) {
      const result = evaluateEnvelope(body, rules);
      expect(result.ok, JSON.stringify(body)).to.equal(false);
    }
  });

  it('keeps good events beside bad ones, in order, with honest counts', () => {
    const good = firstPull();
    const second = firstPull();
    second.id = 'second';
    const bad = firstPull();
    bad.target.repository = '<b>bad</b>';
    const result = evaluateEnvelope({ events: [good, 'not an event', bad, second] }, rules);
    if (!result.ok) throw new Error(result.error);
    expect(result.accepted.map((event) => event.id)).to.deep.equal([good.id, 'second']);
    expect(result.skipped).to.deep.equal([
      { index: 1, reason: 'not-an-object', eventId: undefined },
      { index: 2, reason: 'invalid-repository', eventId: good.id },
    ]);
    expect(result.total).to.equal(4);
  });

  it('accepts an empty events array', () => {
    expect(evaluateEnvelope({ events: [] }, rules)).to.deep.equal({ ok: true, accepted: [], skipped: [], changes: [], total: 0 });
  });
});
