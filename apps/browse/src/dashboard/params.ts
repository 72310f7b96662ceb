// Parses and validates the dashboard's query parameters (shared by the page and the API); a bad one names itself.
import { daysBetween, firstDayOfLast, isUtcDay, isValidRepository, isValidTag, type UtcDay } from '@staticreg/events';
import type { MetricsFilter } from '@staticreg/db';
import { HttpError } from '@staticreg/http';

/** The range presets of the dashboard, in days (today included). */
export const DAY_PRESETS = [7, 14, 30, 90] as const;
export const DEFAULT_DAYS = 30;
/** Longest range a query may cover. */
export const MAX_RANGE_DAYS = 366;
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 500;

const FILTER_PARAMETERS = ['days', 'from', 'to', 'repository', 'tag', 'architecture'] as const;

/** A parameter the client got wrong: 400 naming the parameter. */
export class ParameterError extends HttpError {
  constructor(
    readonly parameter: string,
    problem: string,
  ) {
    super(400, `${parameter}: ${problem}`);
    this.name = 'ParameterError';
  }
}

export interface ParsedMetricsQuery {
  filter: MetricsFilter;
  /** How the range was given: a preset number of days, or explicit from/to. */
  days: number | undefined;
  limit: number;
  format: 'json' | 'csv';
}

export interface ParseOptions {
  /** Today: the end of a `days` range. */
  today: UtcDay;
  /** Parameters this endpoint needs besides the range. */
  require?: ReadonlyArray<'repository' | 'tag'>;
  /** Parameters this endpoint takes on top of the filter and `format`. */
  extra?: readonly string[];
  defaultLimit?: number;
}

const ARCHITECTURE = /^[a-z0-9_-]{1,32}(?:\/[a-z0-9]{1,8})?$/;

function parseDate(name: string, value: string): UtcDay {
  if (!isUtcDay(value)) throw new ParameterError(name, `must be a date as YYYY-MM-DD, got ${JSON.stringify(value)}`);
  return value;
}

function parseWhole(name: string, value: string, min: number, max: number): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ParameterError(name, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** One string per parameter: repeated parameters and empty values are refused or dropped. */
function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ParameterError(name, 'given more than once');
  return value === '' ? undefined : value;
}

/**
 * `days` (1 to 366, default 30) ends today; `from`/`to` give explicit UTC days, both included. Names must
 * follow the registry's reference grammar. Unknown parameters are refused, so a typo never silently widens a query.
 */
export function parseMetricsQuery(query: Record<string, unknown>, options: ParseOptions): ParsedMetricsQuery {
  const allowed = new Set<string>([...FILTER_PARAMETERS, 'format', ...(options.extra ?? [])]);
  for (const name of Object.keys(query)) {
    if (!allowed.has(name)) throw new ParameterError(name, `unknown parameter (this endpoint takes ${[...allowed].join(', ')})`);
  }

  const daysText = single(query, 'days');
  const fromText = single(query, 'from');
  const toText = single(query, 'to');
  let from: UtcDay;
  let to: UtcDay;
  let days: number | undefined;
  if (daysText !== undefined) {
    if (fromText !== undefined || toText !== undefined) throw new ParameterError('days', 'cannot be combined with from or to');
    days = parseWhole('days', daysText, 1, MAX_RANGE_DAYS);
    to = options.today;
    from = firstDayOfLast(days, to);
  } else if (fromText !== undefined || toText !== undefined) {
    to = toText === undefined ? options.today : parseDate('to', toText);
    if (fromText === undefined) throw new ParameterError('from', 'is required when to is given');
    from = parseDate('from', fromText);
    if (from > to) throw new ParameterError('from', `must not be after to (${from} > ${to})`);
    if (daysBetween(from, to) + 1 > MAX_RANGE_DAYS) {
      throw new ParameterError('to', `the range from ${from} to ${to} is longer than ${MAX_RANGE_DAYS} days`);
    }
  } else {
    days = DEFAULT_DAYS;
    to = options.today;
    from = firstDayOfLast(days, to);
  }

  const filter: MetricsFilter = { from, to };
  const repository = single(query, 'repository');
  if (repository !== undefined) {
    if (!isValidRepository(repository)) throw new ParameterError('repository', `not a valid repository name: ${JSON.stringify(repository)}`);
    filter.repository = repository;
  }
  const tag = single(query, 'tag');
  if (tag !== undefined) {
    if (!isValidTag(tag)) throw new ParameterError('tag', `not a valid tag: ${JSON.stringify(tag)}`);
    filter.tag = tag;
  }
  const architecture = single(query, 'architecture');
  if (architecture !== undefined) {
    if (!ARCHITECTURE.test(architecture)) throw new ParameterError('architecture', `not a valid architecture: ${JSON.stringify(architecture)}`);
    filter.architecture = architecture;
  }
  for (const needed of options.require ?? []) {
    if (filter[needed] === undefined) throw new ParameterError(needed, 'is required by this endpoint');
  }

  const limitText = allowed.has('limit') ? single(query, 'limit') : undefined;
  const limit = limitText === undefined ? (options.defaultLimit ?? DEFAULT_LIMIT) : parseWhole('limit', limitText, 1, MAX_LIMIT);

  const formatText = single(query, 'format') ?? 'json';
  if (formatText !== 'json' && formatText !== 'csv') throw new ParameterError('format', `must be json or csv, got ${JSON.stringify(formatText)}`);

  return { filter, days, limit, format: formatText };
}
