// Strict RFC 3339 parsing: the registry writes RFC3339Nano with 1-9 fraction digits and a Z or numeric offset.
import { isUtcDay, utcDayOf, type UtcDay } from './utc-day.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export interface ParsedTimestamp {
  /** Milliseconds since the epoch (sub-millisecond digits are dropped). */
  epochMs: number;
  /** The UTC day the instant falls on (not the day written, when the offset is not Z). */
  utcDay: UtcDay;
}

export function parseRfc3339(value: string): ParsedTimestamp | undefined {
  const m = RFC3339.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // A calendar day that does not exist (2026-02-30) is refused, and so are years before the epoch: not registry timestamps.
  if (!isUtcDay(`${m[1]}-${m[2]}-${m[3]}`)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  // A leap second (:60) is valid RFC 3339 but has no epoch time: it becomes the last millisecond of the second
  // before (23:59:60.5Z -> 23:59:59.999Z), which keeps it on its own UTC day; Date.parse refuses it.
  const leap = second === 60;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const millis = leap ? 999 : m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  const epochMs = Date.UTC(year, month - 1, day, hour, minute, leap ? 59 : second, millis) - offsetMinutes * 60_000;
  if (!Number.isFinite(epochMs)) return undefined;
  return { epochMs, utcDay: utcDayOf(epochMs) };
}
