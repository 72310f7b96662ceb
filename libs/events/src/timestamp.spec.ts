import { expect } from 'chai';
import { parseRfc3339 } from './timestamp.js';

describe('parseRfc3339', () => {
  const valid: Array<[string, string, string]> = [
    ['2026-11-27T09:02:14.824356532Z', '2026-11-27T09:02:14.824Z', '2026-11-27'],
    ['2026-11-27T09:02:14.8Z', '2026-11-27T09:02:14.800Z', '2026-11-27'],
    ['2026-11-27T09:02:14Z', '2026-11-27T09:02:14.000Z', '2026-11-27'],
    ['2026-11-27t09:02:14z', '2026-11-27T09:02:14.000Z', '2026-11-27'],
    ['2026-11-27T23:30:00-08:00', '2026-11-28T07:30:00.000Z', '2026-11-28'],
    ['2026-11-28T00:30:00+01:00', '2026-11-27T23:30:00.000Z', '2026-11-27'],
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z', '2024-02-29'],
    // A leap second is the last millisecond of the second before, on its own UTC day, whatever its fraction or offset.
    ['2016-12-31T23:59:60Z', '2016-12-31T23:59:59.999Z', '2016-12-31'],
    ['2016-12-31T23:59:60.5Z', '2016-12-31T23:59:59.999Z', '2016-12-31'],
    ['2016-12-31T18:59:60-05:00', '2016-12-31T23:59:59.999Z', '2016-12-31'],
    ['2017-01-01T00:59:60.123456789+01:00', '2016-12-31T23:59:59.999Z', '2016-12-31'],
  ];
  for (const [input, iso, date] of valid) {
    it(`parses ${input}`, () => {
      const parsed = parseRfc3339(input);
      expect(parsed && new Date(parsed.epochMs).toISOString()).to.equal(iso);
      expect(parsed?.utcDay).to.equal(date);
    });
  }

  const invalid = [
    '',
    '2026-11-27',
    '2026-11-27 09:02:14Z',
    '2026-11-27T09:02:14',
    '2026-11-27T09:02:14.Z',
    '2026-11-27T09:02:14.1234567890Z',
    '2025-02-29T12:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-11-27T24:00:00Z',
    '2026-11-27T09:60:00Z',
    '2026-11-27T09:00:00+24:00',
    '0099-01-01T00:00:00Z',
    'Fri, 27 Nov 2026 09:02:14 GMT',
  ];
  for (const input of invalid) {
    it(`refuses ${JSON.stringify(input)}`, () => {
      expect(parseRfc3339(input)).to.equal(undefined);
    });
  }
});
