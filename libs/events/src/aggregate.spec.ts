import { expect } from 'chai';
import { aggregatePulls, uniqueById } from './aggregate.js';
import { loadScenario } from '../../../test/support/fixtures.js';
import { evaluateEvent, type PullEvent } from './rules.js';
import { toSessionEvent } from './sessions.js';

function firstPull(): Record<string, any> {
  return structuredClone(loadScenario('pull-by-tag-docker-ua')[0]!.body.events[0]!);
}

function pull(id: string, overrides: Partial<PullEvent> = {}): PullEvent {
  return {
    id,
    timestamp: '2026-11-27T09:00:00Z',
    pullDate: '2026-11-27',
    repository: 'library/demo',
    tag: '1.0',
    digest: `sha256:${'a'.repeat(64)}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    architecture: 'amd64',
    method: 'GET',
    userAgent: 'docker/24 arch/amd64',
    clientAddress: '10.0.0.1:5000',
    ...overrides,
  };
}

describe('aggregatePulls', () => {
  it('sums events per (date, repository, tag, digest, architecture), sorted by key', () => {
    const rows = aggregatePulls([
      pull('1'),
      pull('2', { architecture: 'arm64' }),
      pull('3'),
      pull('4', { pullDate: '2026-11-26' }),
      pull('5', { repository: 'library/alpine' }),
      pull('6', { tag: '0.9' }),
      pull('7', { digest: `sha256:${'b'.repeat(64)}` }),
      pull('8', { architecture: 'arm64' }),
    ]);
    expect(rows.map((row) => [row.pullDate, row.repository, row.tag, row.digest.slice(7, 8), row.architecture, row.count])).to.deep.equal([
      ['2026-11-26', 'library/demo', '1.0', 'a', 'amd64', 1],
      ['2026-11-27', 'library/alpine', '1.0', 'a', 'amd64', 1],
      ['2026-11-27', 'library/demo', '0.9', 'a', 'amd64', 1],
      ['2026-11-27', 'library/demo', '1.0', 'a', 'amd64', 2],
      ['2026-11-27', 'library/demo', '1.0', 'a', 'arm64', 2],
      ['2026-11-27', 'library/demo', '1.0', 'b', 'amd64', 1],
    ]);
  });

  it('does not confuse keys whose parts concatenate alike', () => {
    const rows = aggregatePulls([pull('1', { repository: 'a', tag: 'bc' }), pull('2', { repository: 'ab', tag: 'c' })]);
    expect(rows).to.have.length(2);
  });

  it('dates a leap second on its own UTC day, the day the sessions policy gives it', () => {
    const fresh = evaluateEvent({ ...firstPull(), timestamp: '2016-12-31T23:59:60Z' }, { ignoredUserAgents: [] });
    if (!fresh.accepted) throw new Error(fresh.reason);
    expect(aggregatePulls([fresh.event]).map((row) => [row.pullDate, row.count])).to.deep.equal([['2016-12-31', 1]]);
    expect(new Date(toSessionEvent(fresh.event).time).toISOString()).to.equal('2016-12-31T23:59:59.999Z');
  });

  it('returns nothing for nothing', () => {
    expect(aggregatePulls([])).to.deep.equal([]);
  });
});

describe('uniqueById', () => {
  it('keeps the first event of each id, in order', () => {
    const events = [pull('a'), pull('b', { tag: 'first-b' }), pull('a', { tag: 'again' }), pull('b'), pull('c')];
    expect(uniqueById(events).map((event) => `${event.id}:${event.tag}`)).to.deep.equal(['a:1.0', 'b:first-b', 'c:1.0']);
  });
});
