import { expect } from 'chai';
import { coveringWeeks, splitRange } from './metrics-sources.js';

describe('splitting a range into ISO weeks', () => {
  it('keeps whole weeks apart from the days at either end', () => {
    // 2026-03-02 is a Monday, 2026-03-15 a Sunday.
    expect(splitRange('2026-03-02', '2026-03-15')).to.deep.equal({ weeks: { first: '2026-03-02', last: '2026-03-09' }, days: [] });
    expect(splitRange('2026-02-27', '2026-03-17')).to.deep.equal({
      weeks: { first: '2026-03-02', last: '2026-03-09' },
      days: [
        { from: '2026-02-27', to: '2026-03-01' },
        { from: '2026-03-16', to: '2026-03-17' },
      ],
    });
  });

  it('leaves a range without a whole week as days', () => {
    expect(splitRange('2026-03-03', '2026-03-08')).to.deep.equal({ days: [{ from: '2026-03-03', to: '2026-03-08' }] });
    expect(splitRange('2026-03-15', '2026-03-15')).to.deep.equal({ days: [{ from: '2026-03-15', to: '2026-03-15' }] });
    expect(splitRange('2026-03-04', '2026-03-10')).to.deep.equal({ days: [{ from: '2026-03-04', to: '2026-03-10' }] });
  });

  it('lists the Mondays of every week the range touches', () => {
    expect(coveringWeeks('2026-03-01', '2026-03-02')).to.deep.equal(['2026-02-23', '2026-03-02']);
    expect(coveringWeeks('2026-03-02', '2026-03-08')).to.deep.equal(['2026-03-02']);
    expect(coveringWeeks('2025-12-31', '2026-01-12')).to.deep.equal(['2025-12-29', '2026-01-05', '2026-01-12']);
  });
});
