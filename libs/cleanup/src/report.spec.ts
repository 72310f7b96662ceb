import { expect } from 'chai';
import type { CleanupPlan } from './plan.js';
import { planCsv, planJson, planSummary, planTable } from './report.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

const plan = (deletions: CleanupPlan['deletions']): CleanupPlan => ({
  plannedAt: '2026-06-30T12:00:00.000Z', policyFile: 'cleanup.yaml', deletions, kept: 7, freesBytes: 1_234_567, warnings: [],
});

const deletion: CleanupPlan['deletions'][number] = {
  repository: 'ci/app', digest: DIGEST, tags: ['b', 'a'], rule: 'ci', reason: 'not among the 1 newest tags',
  lastPulled: '2026-05-01', lastChecked: null, created: '2026-04-01T10:00:00.000Z', freesBytes: 2048,
};

describe('the cleanup plan as people and programs read it', () => {
  it('prints a table with aligned columns, a short digest and the summary line', () => {
    const untagged = { ...deletion, digest: `sha256:${'cd'.repeat(32)}`, tags: [], reason: 'untagged;\nacross lines', lastPulled: null, created: null, freesBytes: 0 };
    expect(planTable(plan([deletion, untagged])).split('\n')).to.deep.equal([
      'REPOSITORY  DIGEST               TAGS        RULE  LAST PULLED  LAST CHECKED  CREATED     FREES    REASON',
      'ci/app      sha256:abababababab  b,a         ci    2026-05-01   -             2026-04-01  2,048 B  not among the 1 newest tags',
      'ci/app      sha256:cdcdcdcdcdcd  (untagged)  ci    -            -             -           0 B      untagged; across lines',
      "Plan (cleanup.yaml, 2026-06-30T12:00:00.000Z): 2 manifests to delete (2 tags) in 1 repository, 7 kept; frees 1,234,567 B after the registry's garbage-collect. Nothing was deleted.",
      '',
    ]);
  });

  it('prints only the summary when nothing goes', () => {
    expect(planTable(plan([]))).to.equal(`${planSummary(plan([]))}\n`);
    expect(planSummary(plan([]))).to.contain('0 manifests to delete (0 tags) in 0 repositories');
  });

  it('writes formula-safe CSV with whole digests, and JSON that reads back as the plan', () => {
    const risky = { ...deletion, reason: '=HYPERLINK("x")', tags: ['@latest'] };
    expect(planCsv(plan([risky])).split('\r\n')).to.deep.equal([
      'repository,digest,tags,rule,reason,last_pulled,last_checked,created,frees_bytes',
      `ci/app,${DIGEST},'@latest,ci,"'=HYPERLINK(""x"")",2026-05-01,,2026-04-01T10:00:00.000Z,2048`,
      '',
    ]);
    expect(JSON.parse(planJson(plan([deletion])))).to.deep.equal(plan([deletion]));
  });
});
