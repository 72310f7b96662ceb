import { expect } from 'chai';
import { loadScenario, scenarios } from '../../../test/support/fixtures.js';
import type { RegistryChange } from './registry-changes.js';
import { evaluateEnvelope } from './envelope.js';

/** The changes the receiver reads from an envelope, in the same pass as its pulls (none from a malformed one). */
function registryChanges(body: unknown): RegistryChange[] {
  const result = evaluateEnvelope(body, { ignoredUserAgents: [] });
  return result.ok ? result.changes : [];
}

// Per captured scenario, the changes each file announces, as "action repository[:tag][@first 4 hex of the digest]".
const EXPECTED: Record<string, string[][]> = {
  'blob-head': [[]],
  'blob-pull': [[]],
  // A manifest deleted by digest, then two tags deleted (no digest in those events).
  delete: [['delete library/demo@14fb'], ['delete library/demo:latest'], ['delete library/demo:1.0']],
  'head-manifest': [[]],
  'head-manifest-by-digest': [[]],
  'mount-cross-repo': [[]],
  'pull-by-digest': [[], [], []],
  'pull-by-tag-docker-ua': [[]],
  'pull-by-tag-skopeo': [[], [], []],
  'pull-index-all': Array.from({ length: 10 }, () => []),
  'pull-multiarch-docker-style': Array.from({ length: 13 }, () => []),
  // Blob pushes and mounts are not changes; each platform manifest (by digest) and the index (by tag) are.
  'push-index-all': [[], [], [], ['push library/multi@6516'], [], [], [], ['push library/multi@8ea0'], [], [], ['push library/multi@e198'], ['push library/multi:1.0@fe07']],
  'push-single-arch': [[], [], ['push library/demo:1.0@14fb']],
  'push-single-arch-oci': [[], [], ['push library/demo-oci:1.0@8ea0']],
};

function describeChange(change: RegistryChange): string {
  return `${change.action} ${change.repository}${change.tag ? `:${change.tag}` : ''}${change.digest ? `@${change.digest.slice(7, 11)}` : ''}`;
}

describe('registry changes (push and delete events)', () => {
  it('has an expectation for every captured scenario', () => {
    expect(Object.keys(EXPECTED).sort()).to.deep.equal(scenarios());
  });

  for (const scenario of Object.keys(EXPECTED)) {
    it(`finds the changes in ${scenario}`, () => {
      const found = loadScenario(scenario).map((file) => registryChanges(file.body).map(describeChange));
      expect(found).to.deep.equal(EXPECTED[scenario]);
    });
  }

  it('keeps the event time, and ignores what is not a change or names no valid repository', () => {
    const body = {
      events: [
        { action: 'push', timestamp: '2026-11-27T09:01:34.737Z', target: { mediaType: 'application/vnd.oci.image.index.v1+json', repository: 'a/b', tag: 'v1', digest: `sha256:${'a'.repeat(64)}` } },
        { action: 'push', target: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', repository: 'a/b' } },
        { action: 'delete', target: { repository: 'Bad/Name', digest: `sha256:${'b'.repeat(64)}` } },
        { action: 'delete', target: { repository: 'a/c', tag: 'old' } },
        { action: 'pull', target: { mediaType: 'application/vnd.oci.image.index.v1+json', repository: 'a/b' } },
        'junk',
      ],
    };
    expect(registryChanges(body)).to.deep.equal([
      { action: 'push', repository: 'a/b', tag: 'v1', digest: `sha256:${'a'.repeat(64)}`, time: Date.UTC(2026, 10, 27, 9, 1, 34, 737) },
      { action: 'delete', repository: 'a/c', tag: 'old', time: 0 },
    ]);
    const result = evaluateEnvelope(body, { ignoredUserAgents: [] });
    expect(result.ok && result.skipped.length).to.equal(6);
    expect(registryChanges({})).to.deep.equal([]);
    expect(registryChanges(null)).to.deep.equal([]);
  });
});
