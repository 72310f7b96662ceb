// UTC calendar days as 'YYYY-MM-DD' strings: the unit every count, rollup and window is kept in.

export type UtcDay = string;

/** The length of a UTC day: UTC instants in JavaScript count no leap seconds, so every day has exactly this many ms. */
export const DAY_MS = 86_400_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC day an instant falls on. */
export function utcDayOf(instant: Date | number): UtcDay {
  return new Date(instant).toISOString().slice(0, 10);
}

/** The day `days` after `day` (before it when negative). */
export function addDays(day: UtcDay, days: number): UtcDay {
  return utcDayOf(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS);
}

/** Whole days from `from` to `to`, negative when `to` is earlier. */
export function daysBetween(from: UtcDay, to: UtcDay): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** The first day of the `days` days that end with `last`, both included: the start of "the last N days". */
export function firstDayOfLast(days: number, last: UtcDay): UtcDay {
  return addDays(last, -(days - 1));
}

/** 1 (Monday) to 7 (Sunday), as ISO weeks count, and Postgres' date_trunc('week') with them. */
export function isoWeekday(day: UtcDay): number {
  return new Date(`${day}T00:00:00Z`).getUTCDay() || 7;
}

/** True for a real calendar day written 'YYYY-MM-DD' (not 2026-02-30), from 1970 on. */
export function isUtcDay(text: string): boolean {
  const match = DAY.exec(text);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.getUTCFullYear() >= 1970 && utcDayOf(date) === text;
}
