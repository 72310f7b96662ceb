import { expect } from 'chai';
import { retentionCutoff } from './maintenance.js';

describe('retentionCutoff', () => {
  it('keeps today and the days before it, in UTC', () => {
    expect(retentionCutoff(new Date('2026-03-15T00:00:00Z'), 1)).to.equal('2026-03-15');
    expect(retentionCutoff(new Date('2026-03-15T23:59:59Z'), 30)).to.equal('2026-02-14');
    expect(retentionCutoff(new Date('2024-03-01T10:00:00Z'), 2)).to.equal('2024-02-29');
    expect(retentionCutoff(new Date('2026-01-01T00:30:00+01:00'), 1)).to.equal('2025-12-31');
  });
});
