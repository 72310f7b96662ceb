import { expect } from 'chai';
import { decideCleanup, shortHistoryWarnings, type CatalogManifest, type RepositorySnapshot } from './decide.js';
import { globToRegExp, isSemanticVersion, tagPatternMatcher } from './patterns.js';
import type { CleanupPlan } from './plan.js';
import type { CleanupPolicy, CleanupRule } from './policy.js';

const NOW = new Date('2026-06-30T12:00:00Z'); // today is 2026-06-30
const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const blob = (n: number, size: number) => ({ digest: `sha256:b${n.toString(16).padStart(63, '0')}`, size });

function image(n: number, created: string | null, blobs = [blob(n, 100)]): CatalogManifest {
  return { digest: digest(n), kind: 'image', created, children: [], blobs };
}

function policyOf(rules: Array<Partial<CleanupRule> & { repositories: string[] }>, exclude: string[] = []): CleanupPolicy {
  return { file: 'cleanup.yaml', exclude, rules: rules.map((rule, i) => ({ name: `rules[${i}]`, keepTags: [], ...rule })) };
}

function plan(policy: CleanupPolicy, repositories: RepositorySnapshot[], manifests: CatalogManifest[]): CleanupPlan {
  return decideCleanup(policy, { repositories, manifests }, NOW);
}

/** The planned deletions as 'repository@digest-number' for short assertions. */
function gone(result: CleanupPlan): string[] {
  return result.deletions.map((deletion) => `${deletion.repository}@${parseInt(deletion.digest.slice(7), 16)}`);
}

describe('the patterns of a cleanup policy', () => {
  it('matches * within a segment, ** across segments, ? as one character', () => {
    expect(globToRegExp('ci/*').test('ci/app')).to.equal(true);
    expect(globToRegExp('ci/*').test('ci/team/app')).to.equal(false);
    expect(globToRegExp('ci/**').test('ci/team/app')).to.equal(true);
    expect(globToRegExp('ci/**').test('cid/app')).to.equal(false);
    expect(globToRegExp('**/app').test('app')).to.equal(true);
    expect(globToRegExp('a/**/b').test('a/b')).to.equal(true);
    expect(globToRegExp('a/**/b').test('a/x/y/b')).to.equal(true);
    expect(globToRegExp('v?').test('v1')).to.equal(true);
    expect(globToRegExp('v1.*').test('v1x2')).to.equal(false); // a dot is a dot
    expect(globToRegExp('[a]+(b)').test('[a]+(b)')).to.equal(true);
  });

  it('knows semantic versions, with or without v, and nothing else', () => {
    for (const tag of ['1.2.3', 'v1.2.3', '0.0.0', '1.2.3-rc.1', '10.20.30-alpha-beta']) expect(isSemanticVersion(tag), tag).to.equal(true);
    for (const tag of ['1.2', '1', 'latest', '01.2.3', '1.2.3.4', '1.2.3-', 'v1.2.3-01', 'sha-1.2.3']) expect(isSemanticVersion(tag), tag).to.equal(false);
    const match = tagPatternMatcher(['latest', 'semver', 'release-*']);
    expect([match('latest'), match('v2.0.0'), match('release-7'), match('main')]).to.deep.equal(['latest', 'semver', 'release-*', undefined]);
  });
});

describe('the cleanup decision', () => {
  const manifests = [image(1, '2026-01-01T00:00:00Z'), image(2, '2026-02-01T00:00:00Z'), image(3, '2026-03-01T00:00:00Z'), image(4, null)];

  it('keeps repositories that are excluded or that no rule matches, and the first matching rule wins', () => {
    const repositories = ['base/os', 'ci/app', 'other/app', 'ci/keep'].map((repository) => ({
      repository, tags: [{ tag: 'old', digest: digest(1), created: '2026-01-01T00:00:00Z' }], use: [],
    }));
    const result = plan(
      policyOf([{ name: 'keep-this', repositories: ['ci/keep'], keepNewest: 1 }, { name: 'ci', repositories: ['ci/*', 'base/*'], keepNewest: 0 }], ['base/**']),
      repositories, manifests,
    );
    expect(gone(result)).to.deep.equal(['ci/app@1']);
    expect(result.deletions[0]).to.include({ rule: 'ci' });
    expect(result.kept).to.equal(3);
  });

  describe('keepUsedWithinDays', () => {
    const rule = policyOf([{ repositories: ['**'], keepUsedWithinDays: 30, unusedGraceDays: 0 }]);
    const tags = [
      { tag: 'a', digest: digest(1), created: '2026-01-01T00:00:00Z' },
      { tag: 'b', digest: digest(2), created: '2026-02-01T00:00:00Z' },
      { tag: 'c', digest: digest(3), created: '2026-03-01T00:00:00Z' },
      { tag: 'd', digest: digest(4), created: null },
    ];

    it('keeps what was pulled or checked on one of the last N days, today included', () => {
      const result = plan(rule, [{
        repository: 'app',
        tags,
        use: [
          { digest: digest(1), lastPulled: '2026-06-01', lastChecked: null }, // the first of the 30 days
          { digest: digest(2), lastPulled: '2026-05-31', lastChecked: null }, // the day before
          { digest: digest(3), lastPulled: '2026-01-02', lastChecked: '2026-06-30' }, // a check is use
        ],
      }], manifests);
      expect(gone(result)).to.deep.equal(['app@2', 'app@4']);
      expect(result.deletions[0]).to.deep.include({
        tags: ['b'], rule: 'rules[0]', lastPulled: '2026-05-31', lastChecked: null, created: '2026-02-01T00:00:00Z',
        reason: 'not pulled or checked since 2026-06-01 (keep: used within 30 days)',
      });
      expect(result.kept).to.equal(2);
    });

    it("counts an index's use for its platforms and a platform's use for its index", () => {
      const index: CatalogManifest = { digest: digest(10), kind: 'index', created: '2026-01-05T00:00:00Z', children: [digest(11), digest(12)], blobs: [blob(11, 10), blob(12, 20)] };
      const platforms = [image(11, '2026-01-05T00:00:00Z', [blob(11, 10)]), image(12, '2026-01-04T00:00:00Z', [blob(12, 20)])];
      const snapshot = (use: Array<{ digest: string; lastPulled: string | null; lastChecked: string | null }>): RepositorySnapshot => ({
        repository: 'multi',
        tags: [{ tag: 'latest', digest: digest(10), created: '2026-01-05T00:00:00Z' }, { tag: 'arm', digest: digest(12), created: '2026-01-04T00:00:00Z' }],
        use,
      });
      // A platform pulled by digest keeps the index (and with it its platforms, whatever their own tags).
      expect(gone(plan(rule, [snapshot([{ digest: digest(11), lastPulled: '2026-06-20', lastChecked: null }])], [index, ...platforms]))).to.deep.equal([]);
      const viaIndex = plan(rule, [snapshot([{ digest: digest(10), lastPulled: null, lastChecked: '2026-06-20' }])], [index, ...platforms]);
      expect(gone(viaIndex)).to.deep.equal([]);
      const unused = plan(rule, [snapshot([{ digest: digest(10), lastPulled: '2026-04-01', lastChecked: null }])], [index, ...platforms]);
      expect(gone(unused)).to.deep.equal(['multi@10', 'multi@12']);
      expect(unused.deletions.map((deletion) => deletion.lastPulled)).to.deep.equal(['2026-04-01', '2026-04-01']);
    });
  });

  it('keepNewest keeps the K newest tags by creation, unknown creation last, ties by tag name', () => {
    const tags = [
      { tag: 'jan', digest: digest(1), created: '2026-01-01T00:00:00Z' },
      { tag: 'mar-b', digest: digest(3), created: '2026-03-01T00:00:00Z' },
      { tag: 'mar-a', digest: digest(2), created: '2026-03-01T00:00:00Z' },
      { tag: 'unknown', digest: digest(4), created: null },
    ];
    const newest = (count: number) => gone(plan(policyOf([{ repositories: ['r'], keepNewest: count }]), [{ repository: 'r', tags, use: [] }], manifests));
    expect(newest(0)).to.deep.equal(['r@1', 'r@2', 'r@3', 'r@4']);
    expect(newest(1)).to.deep.equal(['r@1', 'r@3', 'r@4']);
    expect(newest(2)).to.deep.equal(['r@1', 'r@4']);
    expect(newest(3)).to.deep.equal(['r@4']);
    expect(newest(9)).to.deep.equal([]);
    const result = plan(policyOf([{ repositories: ['r'], keepNewest: 3 }]), [{ repository: 'r', tags, use: [] }], manifests);
    expect(result.deletions[0]?.reason).to.equal('not among the 3 newest tags');
  });

  it('keepTags keeps tags matching a glob or semver', () => {
    const tags = ['latest', 'v1.2.3', '1.2', 'feature-x', 'release-9'].map((tag, i) => ({ tag, digest: digest(i + 1), created: null }));
    const described = tags.map((_, i) => image(i + 1, null));
    const result = plan(policyOf([{ repositories: ['r'], keepTags: ['latest', 'semver', 'release-*'] }]), [{ repository: 'r', tags, use: [] }], described);
    expect(result.deletions.map((deletion) => deletion.tags[0])).to.deep.equal(['1.2', 'feature-x']);
    expect(result.deletions[0]?.reason).to.equal('no tag matches latest, semver, release-*');
  });

  it('unusedGraceDays keeps a never-used image until its creation + N days, and one of unknown creation', () => {
    const tags = [
      { tag: 'new', digest: digest(1), created: '2026-06-24T23:00:00Z' }, // day 6 of a 7-day grace
      { tag: 'week', digest: digest(2), created: '2026-06-23T00:00:00Z' }, // day 7: over
      { tag: 'unknown', digest: digest(3), created: null },
      { tag: 'used', digest: digest(4), created: '2026-06-29T00:00:00Z' }, // used once, long enough ago
    ];
    const result = plan(
      policyOf([{ repositories: ['r'], keepUsedWithinDays: 1, unusedGraceDays: 7 }]),
      [{ repository: 'r', tags, use: [{ digest: digest(4), lastPulled: '2026-06-29', lastChecked: null }] }],
      [1, 2, 3, 4].map((n) => image(n, null)),
    );
    expect(gone(result)).to.deep.equal(['r@2', 'r@4']);
    expect(result.deletions[0]?.reason).to.equal(
      'not pulled or checked since 2026-06-30 (keep: used within 1 days); never used, created 2026-06-23 (grace 7 days)',
    );
  });

  it('starts the grace of a never-used image when the catalog first saw it, if later than its creation', () => {
    // Reproducible builds stamp `created` with 1970 or a fixed date: the first sighting bounds the push.
    const stamped = (n: number, firstSeen: string): CatalogManifest => ({ ...image(n, '1970-01-01T00:00:00Z'), firstSeen });
    const tags = [
      { tag: 'pushed-today', digest: digest(1), created: '1970-01-01T00:00:00Z' },
      { tag: 'pushed-long-ago', digest: digest(2), created: '1970-01-01T00:00:00Z' },
    ];
    const result = plan(
      policyOf([{ repositories: ['r'], keepUsedWithinDays: 1, unusedGraceDays: 7 }]),
      [{ repository: 'r', tags, use: [] }],
      [stamped(1, '2026-06-30T08:00:00Z'), stamped(2, '2026-06-01T08:00:00Z')],
    );
    expect(gone(result)).to.deep.equal(['r@2']);
    expect(result.deletions[0]?.reason).to.equal(
      'not pulled or checked since 2026-06-30 (keep: used within 1 days); never used, created 1970-01-01, first seen 2026-06-01 (grace 7 days)',
    );
    expect(result.deletions[0]?.created).to.equal('1970-01-01T00:00:00Z');
  });

  it('never plans a digest a kept tag points to, nor a platform of a kept index', () => {
    const index: CatalogManifest = { digest: digest(10), kind: 'index', created: null, children: [digest(11)], blobs: [blob(11, 10)] };
    const tags = [
      { tag: 'latest', digest: digest(1), created: null },
      { tag: 'build-7', digest: digest(1), created: null },
      { tag: 'build-8', digest: digest(2), created: null },
      { tag: 'multi', digest: digest(10), created: null },
      { tag: 'build-9', digest: digest(11), created: null },
    ];
    const described = [index, image(1, null), image(2, null), image(11, null)];
    const result = plan(policyOf([{ repositories: ['r'], keepTags: ['latest', 'multi'] }]), [{ repository: 'r', tags, use: [] }], described);
    expect(gone(result)).to.deep.equal(['r@2']);
    expect(result.kept).to.equal(3);
  });

  it('plans nothing in a repository while a tag points to a manifest the catalog has not described', () => {
    // `latest` was just pushed as an index listing image 11 (tagged v1, unused): deleting 11 would break `latest`.
    const tags = [
      { tag: 'v1', digest: digest(11), created: '2026-01-01T00:00:00Z' },
      { tag: 'latest', digest: digest(10), created: null },
    ];
    const use = [{ digest: digest(10), lastPulled: '2026-06-30', lastChecked: null }];
    const policy = policyOf([{ repositories: ['r'], keepUsedWithinDays: 7 }]);
    const result = plan(policy, [{ repository: 'r', tags, use }], [image(11, '2026-01-01T00:00:00Z')]);
    expect(gone(result)).to.deep.equal([]);
    expect(result.kept).to.equal(2);
    expect(result.warnings).to.deep.equal([
      'r: nothing planned, 2 digests kept: the catalog has not described the manifest of tag latest (it may be an index listing them); the next catalog crawl does',
    ]);
    // Once described, the index keeps its platform.
    const index: CatalogManifest = { digest: digest(10), kind: 'index', created: null, children: [digest(11)], blobs: [] };
    const described = plan(policy, [{ repository: 'r', tags, use }], [image(11, '2026-01-01T00:00:00Z'), index]);
    expect(gone(described)).to.deep.equal([]);
    expect(described.warnings).to.deep.equal([]);
  });

  describe('untagged digests', () => {
    const index: CatalogManifest = { digest: digest(10), kind: 'index', created: null, children: [digest(11)], blobs: [] };
    const snapshot: RepositorySnapshot = {
      repository: 'r',
      tags: [{ tag: 'latest', digest: digest(10), created: null }],
      use: [
        { digest: digest(10), lastPulled: '2026-06-30', lastChecked: null },
        { digest: digest(11), lastPulled: '2026-01-01', lastChecked: null }, // a platform of the tagged index
        { digest: digest(20), lastPulled: '2026-06-29', lastChecked: null }, // untagged, used
        { digest: digest(21), lastPulled: '2026-01-01', lastChecked: '2026-02-01' }, // untagged, unused lately
        { digest: 'sha256:bench', lastPulled: '2026-01-01', lastChecked: null }, // not a registry digest
      ],
    };

    it('follow the use window, and are never platforms of an index', () => {
      const result = plan(policyOf([{ repositories: ['r'], keepUsedWithinDays: 7 }]), [snapshot], [index]);
      expect(gone(result)).to.deep.equal(['r@21']);
      expect(result.deletions[0]).to.deep.include({
        tags: [], lastPulled: '2026-01-01', lastChecked: '2026-02-01', created: null,
        reason: 'untagged; not pulled or checked since 2026-06-24 (keep: used within 7 days)',
      });
    });

    it('are all kept, with a warning, while a tag points to a manifest the catalog has not described', () => {
      // Without the index's description its platform 11 looks untagged and unused: deleting it would break `latest`.
      const result = plan(policyOf([{ repositories: ['r'], keepUsedWithinDays: 7 }]), [snapshot], []);
      expect(gone(result)).to.deep.equal([]);
      expect(result.warnings).to.deep.equal([
        'r: nothing planned, 4 digests kept: the catalog has not described the manifest of tag latest (it may be an index listing them); the next catalog crawl does',
      ]);
      expect(plan(policyOf([{ repositories: ['r'], keepUsedWithinDays: 7 }]), [snapshot], [index]).warnings).to.deep.equal([]);
    });

    it('are not kept by keepNewest or keepTags', () => {
      const result = plan(policyOf([{ repositories: ['r'], keepNewest: 5, keepTags: ['**'] }]), [snapshot], [index]);
      expect(gone(result)).to.deep.equal(['r@20', 'r@21']);
      expect(result.deletions[0]?.reason).to.equal('untagged; only use and the grace period keep an untagged digest');
    });
  });

  it('warns when a use window reaches before the count history or the retention', () => {
    const policy = policyOf([
      { name: 'short', repositories: ['a'], keepUsedWithinDays: 7 }, // from 2026-06-24
      { name: 'long', repositories: ['b'], keepUsedWithinDays: 60 }, // from 2026-05-02
      { name: 'by-tag', repositories: ['c'], keepNewest: 1 },
    ]);
    expect(shortHistoryWarnings(policy, NOW, '2026-04-01')).to.deep.equal([]);
    expect(shortHistoryWarnings(policy, NOW, '2026-06-01')).to.deep.equal([
      'rule long: keepUsedWithinDays 60 reaches back to 2026-05-02, but the count tables start on 2026-06-01: an image used only before then looks never used',
    ]);
    expect(shortHistoryWarnings(policy, NOW, '2026-04-01', 30)).to.deep.equal([
      'rule long: keepUsedWithinDays 60 reaches back to 2026-05-02, but STATICREG_RETENTION_DAYS=30 keeps counts from 2026-06-01: an image used only before then looks never used',
    ]);
    expect(shortHistoryWarnings(policy, NOW, null)).to.deep.equal([
      'rule short: the count tables are empty, so every image it matches looks never used',
      'rule long: the count tables are empty, so every image it matches looks never used',
    ]);
  });

  it('counts as freed the blobs no kept image shares, each blob once in the total', () => {
    const shared = blob(100, 1000);
    const catalog = [
      image(1, null, [blob(1, 10), shared]), // deleted in a; its shared blob is kept by image 3
      image(2, null, [blob(2, 20), blob(5, 5)]), // deleted in a and b
      image(3, null, [blob(3, 30), shared]), // kept in c (no rule)
      image(4, null, [blob(4, 40), blob(5, 5)]), // deleted in b, shares blob 5 with image 2
    ];
    const result = plan(policyOf([{ repositories: ['a', 'b'], keepNewest: 0 }]), [
      { repository: 'a', tags: [{ tag: 'one', digest: digest(1), created: null }, { tag: 'two', digest: digest(2), created: null }], use: [] },
      { repository: 'b', tags: [{ tag: 'two', digest: digest(2), created: null }, { tag: 'four', digest: digest(4), created: null }], use: [] },
      { repository: 'c', tags: [{ tag: 'three', digest: digest(3), created: null }], use: [] },
    ], catalog);
    expect(result.deletions.map((deletion) => [deletion.repository, deletion.freesBytes])).to.deep.equal([['a', 10], ['a', 25], ['b', 25], ['b', 45]]);
    expect(result.freesBytes).to.equal(10 + 20 + 5 + 40);
    expect(result).to.include({ plannedAt: '2026-06-30T12:00:00.000Z', policyFile: 'cleanup.yaml', kept: 1 });
  });

  it("counts a layer an index's platforms share once", () => {
    const index: CatalogManifest = { digest: digest(10), kind: 'index', created: null, children: [], blobs: [blob(1, 10), blob(7, 70), blob(2, 20), blob(7, 70)] };
    const result = plan(policyOf([{ repositories: ['r'], keepNewest: 0 }]), [{ repository: 'r', tags: [{ tag: 'x', digest: digest(10), created: null }], use: [] }], [index]);
    expect([result.deletions[0]?.freesBytes, result.freesBytes]).to.deep.equal([100, 100]);
  });

  it('keeps a digest deleted in one repository from freeing blobs while another repository keeps it', () => {
    const result = plan(policyOf([{ repositories: ['a'], keepNewest: 0 }]), [
      { repository: 'a', tags: [{ tag: 'x', digest: digest(1), created: null }], use: [] },
      { repository: 'b', tags: [{ tag: 'x', digest: digest(1), created: null }], use: [] },
    ], [image(1, null, [blob(1, 10)])]);
    expect(gone(result)).to.deep.equal(['a@1']);
    expect(result.freesBytes).to.equal(0);
  });
});
