import { expect } from 'chai';
import { PoisonEvidence } from './poison-evidence.js';

describe('PoisonEvidence', () => {
  it('does not convict an event refused alone with no other store since', () => {
    const evidence = new PoisonEvidence();
    expect(evidence.refused('e', evidence.begin())).to.equal(false);
    expect(evidence.refused('e', evidence.begin())).to.equal(false);
    expect(evidence.hasProof('e')).to.equal(false);
  });

  it('convicts on a refusal after a store that began after the first refusal succeeded', () => {
    const evidence = new PoisonEvidence();
    expect(evidence.refused('e', evidence.begin())).to.equal(false);
    evidence.succeeded(evidence.begin());
    expect(evidence.hasProof('e')).to.equal(true);
    expect(evidence.refused('e', evidence.begin())).to.equal(true);
  });

  it('does not count a store that began before the refusal (a constraint added meanwhile)', () => {
    const evidence = new PoisonEvidence();
    const earlier = evidence.begin();
    expect(evidence.refused('e', evidence.begin())).to.equal(false);
    evidence.succeeded(earlier);
    expect(evidence.hasProof('e')).to.equal(false);
    expect(evidence.refused('e', evidence.begin())).to.equal(false);
  });

  it('does not count a refusal whose attempt began before the proving store ended (a constraint dropped meanwhile)', () => {
    const evidence = new PoisonEvidence();
    expect(evidence.refused('e', evidence.begin())).to.equal(false);
    const concurrent = evidence.begin();
    evidence.succeeded(evidence.begin());
    expect(evidence.refused('e', concurrent)).to.equal(false);
    expect(evidence.refused('e', evidence.begin())).to.equal(true);
  });

  it('keeps at most maxSuspects suspects, forgetting the oldest', () => {
    const evidence = new PoisonEvidence(2);
    for (const id of ['a', 'b', 'c']) evidence.refused(id, evidence.begin());
    evidence.succeeded(evidence.begin());
    expect(['a', 'b', 'c'].map((id) => evidence.hasProof(id))).to.deep.equal([false, true, true]);
  });
});
