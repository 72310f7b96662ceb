import { expect } from 'chai';
import { addDays, daysBetween, firstDayOfLast, isoWeekday, isUtcDay, utcDayOf } from './utc-day.js';

describe('utc-day', () => {
  it('names the UTC day of an instant, whatever the local zone would say', () => {
    expect(utcDayOf(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).to.equal('2026-12-31');
    expect(utcDayOf(new Date('2027-01-01T00:00:00.000Z'))).to.equal('2027-01-01');
    expect(utcDayOf(new Date('2026-03-01T01:30:00+02:00'))).to.equal('2026-02-28');
  });

  it('adds days across month, year and leap-day boundaries', () => {
    expect(addDays('2024-02-28', 1)).to.equal('2024-02-29');
    expect(addDays('2025-02-28', 1)).to.equal('2025-03-01');
    expect(addDays('2026-12-31', 1)).to.equal('2027-01-01');
    expect(addDays('2027-01-01', -1)).to.equal('2026-12-31');
    expect(addDays('2026-03-29', 0)).to.equal('2026-03-29');
  });

  it('counts the days between two days, signed', () => {
    expect(daysBetween('2026-01-01', '2026-12-31')).to.equal(364);
    expect(daysBetween('2024-01-01', '2025-01-01')).to.equal(366);
    expect(daysBetween('2026-12-02', '2026-11-25')).to.equal(-7);
  });

  it('starts "the last N days" so that N days end with the last one', () => {
    expect(firstDayOfLast(1, '2026-12-02')).to.equal('2026-12-02');
    expect(firstDayOfLast(7, '2026-12-02')).to.equal('2026-11-26');
    expect(firstDayOfLast(30, '2026-03-01')).to.equal('2026-01-31');
  });

  it('numbers the weekdays as ISO weeks do, Monday 1 to Sunday 7', () => {
    // 2026-11-30 is a Monday; 2024-12-29 a Sunday in the ISO week that holds 2025-01-01.
    expect(['2026-11-30', '2026-12-02', '2026-12-05', '2026-12-06'].map(isoWeekday)).to.deep.equal([1, 3, 6, 7]);
    expect(['2024-12-29', '2024-12-30', '2025-01-01'].map(isoWeekday)).to.deep.equal([7, 1, 3]);
  });

  it('accepts only real calendar days in YYYY-MM-DD from 1970 on', () => {
    expect(['2026-12-02', '2024-02-29', '1970-01-01'].map(isUtcDay)).to.deep.equal([true, true, true]);
    expect(['2025-02-29', '2026-13-01', '2026-1-02', '1969-12-31', '2026-12-02T00:00:00Z', ''].map(isUtcDay)).to.deep.equal([
      false, false, false, false, false, false,
    ]);
  });
});
