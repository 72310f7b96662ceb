// Query parameters of the registry pages and API, validated once: a bad one is a 400 naming itself.
import { isValidRepository, isValidTag } from '@staticreg/events';
import { HttpError } from '@staticreg/http';
import { TAG_SORTS, type TagSort } from '@staticreg/catalog';

export const FOLDER_PAGE_SIZE = 100;
export const TAG_PAGE_SIZE = 50;
export const SEARCH_PAGE_SIZE = 50;
export const SUGGEST_LIMIT = 8;
/** Choices offered by the "not pulled or checked in N days" filter (any whole number up to 3650 is accepted). */
export const UNSEEN_CHOICES = [7, 14, 30, 60, 90, 180, 365] as const;

type Query = Record<string, unknown>;

function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `${name}: give it once`);
  return value;
}

function wholeNumber(query: Query, name: string, min: number, max: number): number | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,7}$/.test(value) || Number(value) < min || Number(value) > max) throw new HttpError(400, `${name}: must be a whole number from ${min} to ${max}`);
  return Number(value);
}

export function pageParam(query: Query): number {
  return wholeNumber(query, 'page', 1, 1_000_000) ?? 1;
}

/** A folder path: '' or a valid repository-name prefix. */
export function pathParam(query: Query): string {
  const path = (single(query, 'path') ?? '').replace(/^\/+|\/+$/g, '');
  if (path !== '' && !isValidRepository(path)) throw new HttpError(400, 'path: not a repository path');
  return path;
}

export function searchParam(query: Query): string {
  const q = (single(query, 'q') ?? '').trim();
  if (q.length > 255) throw new HttpError(400, 'q: at most 255 characters');
  return q;
}

export function limitParam(query: Query, fallback: number, max: number): number {
  return wholeNumber(query, 'limit', 1, max) ?? fallback;
}

export interface TagListParams {
  sort: TagSort;
  order: 'asc' | 'desc';
  page: number;
  /** Only tags not pulled or checked in this many days. */
  unseenDays: number | undefined;
}

/** Sorting by pulls or last seen needs the database; without it those fall back to name. */
export function tagListParams(query: Query, hasUsage: boolean): TagListParams {
  const sortValue = single(query, 'sort') ?? 'name';
  if (!(TAG_SORTS as readonly string[]).includes(sortValue)) throw new HttpError(400, `sort: one of ${TAG_SORTS.join(', ')}`);
  let sort = sortValue as TagSort;
  if (!hasUsage && (sort === 'pulls' || sort === 'last-seen')) sort = 'name';
  const orderValue = single(query, 'order');
  if (orderValue !== undefined && orderValue !== 'asc' && orderValue !== 'desc') throw new HttpError(400, 'order: asc or desc');
  // Names read best A to Z; dates and counts newest or highest first.
  const order = (orderValue as 'asc' | 'desc' | undefined) ?? (sort === 'name' ? 'asc' : 'desc');
  const unseenDays = wholeNumber(query, 'unseen', 1, 3650);
  return { sort, order, page: pageParam(query), unseenDays: hasUsage ? unseenDays : undefined };
}

/** `/r/<name>` or `/r/<name>/-/tags/<tag>`: the repository name and the tag, validated. */
export function parseRepositoryPath(segments: readonly string[]): { repository: string; tag?: string } {
  const dash = segments.indexOf('-');
  const nameParts = dash < 0 ? segments : segments.slice(0, dash);
  const repository = nameParts.join('/');
  if (!isValidRepository(repository)) throw new HttpError(404, `no repository named ${repository}`);
  if (dash < 0) return { repository };
  const rest = segments.slice(dash + 1);
  if (rest.length !== 2 || rest[0] !== 'tags' || !isValidTag(rest[1]!)) throw new HttpError(404, 'no such page');
  return { repository, tag: rest[1]! };
}
