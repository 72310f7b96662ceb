// The metrics API: every dashboard panel as JSON or CSV under /api/metrics/, with validated parameters.
import express, { type Request, type Response, type Router } from 'express';
import type { Kysely } from 'kysely';
import {
  dailyByArchitecture,
  dailyPulls,
  imageArchitectures,
  listArchitectures,
  pullsByArchitecture,
  suggestRepositories,
  suggestTags,
  tagDigests,
  tagDigestsDaily,
  topRepositories,
  topTags,
  type Database,
  type MetricsFilter,
} from '@staticreg/db';
import { utcDayOf } from '@staticreg/events';
import { HttpError } from '@staticreg/http';
import { toCsv, type CsvColumn } from '@staticreg/csv';
import { ParameterError, parseMetricsQuery, type ParsedMetricsQuery } from './params.js';

export const METRICS_API = '/api/metrics';

interface PanelDefinition<T> {
  /** Path under /api/metrics/. */
  name: string;
  require?: ReadonlyArray<'repository' | 'tag'>;
  /** Takes ?limit= (rows, or tags for image-architectures) with this default. */
  defaultLimit?: number;
  run: (db: Kysely<Database>, query: ParsedMetricsQuery) => Promise<T[]>;
  columns: ReadonlyArray<CsvColumn<T>>;
}

const definePanel = <T>(panel: PanelDefinition<T>): PanelDefinition<unknown> => panel as PanelDefinition<unknown>;

type Named = MetricsFilter & { repository: string; tag: string };

/** The panels, in the order the dashboard shows them: per day, top repositories and images, architectures, one image, trend, digests. */
export const PANELS: ReadonlyArray<PanelDefinition<unknown>> = [
  definePanel({
    name: 'daily',
    run: (db, q) => dailyPulls(db, q.filter),
    columns: [
      { header: 'date', value: (r) => r.date },
      { header: 'pulls', value: (r) => r.pulls },
      { header: 'checks', value: (r) => r.checks },
    ],
  }),
  definePanel({
    name: 'top-repositories',
    defaultLimit: 10,
    run: (db, q) => topRepositories(db, q.filter, q.limit),
    columns: [
      { header: 'repository', value: (r) => r.repository },
      { header: 'pulls', value: (r) => r.pulls },
      { header: 'checks', value: (r) => r.checks },
    ],
  }),
  definePanel({
    name: 'top-tags',
    defaultLimit: 10,
    run: (db, q) => topTags(db, q.filter, q.limit),
    columns: [
      { header: 'repository', value: (r) => r.repository },
      { header: 'tag', value: (r) => r.tag },
      { header: 'pulls', value: (r) => r.pulls },
      { header: 'checks', value: (r) => r.checks },
    ],
  }),
  definePanel({
    name: 'architectures',
    run: (db, q) => pullsByArchitecture(db, q.filter),
    columns: [
      { header: 'architecture', value: (r) => r.architecture },
      { header: 'pulls', value: (r) => r.pulls },
      { header: 'checks', value: (r) => r.checks },
      { header: 'repositories', value: (r) => r.repositories },
    ],
  }),
  definePanel({
    name: 'image-architectures',
    require: ['repository'],
    defaultLimit: 20,
    run: (db, q) => imageArchitectures(db, q.filter as MetricsFilter & { repository: string }, q.limit),
    columns: [
      { header: 'tag', value: (r) => r.tag },
      { header: 'architecture', value: (r) => r.architecture },
      { header: 'pulls', value: (r) => r.pulls },
    ],
  }),
  definePanel({
    name: 'daily-architectures',
    run: (db, q) => dailyByArchitecture(db, q.filter),
    columns: [
      { header: 'date', value: (r) => r.date },
      { header: 'architecture', value: (r) => r.architecture },
      { header: 'pulls', value: (r) => r.pulls },
    ],
  }),
  definePanel({
    name: 'tag-digests',
    require: ['repository', 'tag'],
    run: (db, q) => tagDigests(db, q.filter as Named),
    columns: [
      { header: 'digest', value: (r) => r.digest },
      { header: 'pulls', value: (r) => r.pulls },
      { header: 'checks', value: (r) => r.checks },
      { header: 'first_pulled', value: (r) => r.firstPulled },
      { header: 'last_pulled', value: (r) => r.lastPulled },
      { header: 'last_seen_at', value: (r) => r.lastSeenAt },
    ],
  }),
  definePanel({
    name: 'tag-digests/daily',
    require: ['repository', 'tag'],
    run: (db, q) => tagDigestsDaily(db, q.filter as Named),
    columns: [
      { header: 'date', value: (r) => r.date },
      { header: 'digest', value: (r) => r.digest },
      { header: 'pulls', value: (r) => r.pulls },
    ],
  }),
];

export interface MetricsApiDeps {
  /** Undefined when STATICREG_DB_URL is not set: the metrics answer 501. */
  db: Kysely<Database> | undefined;
  /**
   * The repositories this request's viewer may see, when only some: every panel, total and suggestion is computed
   * over those. Undefined (or no function): every repository.
   */
  visibleRepositories?: (res: Response) => readonly string[] | undefined;
  /** The clock that decides "today" (tests pin it). */
  now?: () => Date;
}

/** How many names a suggest endpoint answers. */
export const SUGGEST_LIMIT = 20;
const REPOSITORY_PREFIX = /^[a-z0-9._/-]{0,255}$/;
const TAG_PREFIX = /^[\w.-]{0,128}$/;

/**
 * Without STATICREG_DB_URL there are no counts to read until the variable is set and browse restarted: 501 and
 * no-store, as browse answers without a registry (503 stays for a database that is configured but down).
 */
function requireDb(db: Kysely<Database> | undefined): Kysely<Database> {
  if (!db) throw new HttpError(501, 'no database configured (STATICREG_DB_URL is not set)', { 'Cache-Control': 'no-store' });
  return db;
}

function checkParameters(query: Record<string, unknown>, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (!allowed.includes(name)) throw new ParameterError(name, `unknown parameter (this endpoint takes ${allowed.join(', ')})`);
    if (typeof value !== 'string') throw new ParameterError(name, 'given more than once');
    out[name] = value;
  }
  return out;
}

function send<T>(res: Response, panel: PanelDefinition<T>, query: ParsedMetricsQuery, rows: T[]): void {
  res.set('Cache-Control', 'no-store');
  if (query.format === 'csv') {
    const file = `staticreg-${panel.name.replace('/', '-')}-${query.filter.from}-to-${query.filter.to}.csv`;
    res.set('Content-Disposition', `attachment; filename="${file}"`).type('text/csv; charset=utf-8').send(toCsv(panel.columns, rows));
    return;
  }
  res.json({ panel: panel.name, filter: query.filter, rows });
}

export function createMetricsApiRouter(deps: MetricsApiDeps): Router {
  const router = express.Router();
  const today = () => utcDayOf(deps.now?.() ?? new Date());

  for (const panel of PANELS) {
    router.get(`${METRICS_API}/${panel.name}`, async (req: Request, res: Response) => {
      const query = parseMetricsQuery(req.query as Record<string, unknown>, {
        today: today(),
        require: panel.require,
        extra: panel.defaultLimit === undefined ? [] : ['limit'],
        defaultLimit: panel.defaultLimit,
      });
      const visible = deps.visibleRepositories?.(res);
      const scoped = visible === undefined ? query : { ...query, filter: { ...query.filter, repositories: visible } };
      // The answer echoes the filter as asked, not the viewer's list of repositories.
      send(res, panel, query, await panel.run(requireDb(deps.db), scoped));
    });
  }

  router.get(`${METRICS_API}/suggest/repositories`, async (req, res) => {
    const params = checkParameters(req.query as Record<string, unknown>, ['q']);
    const prefix = params.q ?? '';
    if (!REPOSITORY_PREFIX.test(prefix)) throw new ParameterError('q', 'may hold only the characters of a repository name');
    const db = requireDb(deps.db);
    const visible = deps.visibleRepositories?.(res);
    const names = visible === undefined ? await suggestRepositories(db, prefix, SUGGEST_LIMIT) : [...visible].filter((name) => name.startsWith(prefix)).sort().slice(0, SUGGEST_LIMIT);
    res.set('Cache-Control', 'no-store').json({ names });
  });

  router.get(`${METRICS_API}/suggest/tags`, async (req, res) => {
    const params = checkParameters(req.query as Record<string, unknown>, ['repository', 'q']);
    const { filter } = parseMetricsQuery({ repository: params.repository }, { today: today(), require: ['repository'] });
    const prefix = params.q ?? '';
    if (!TAG_PREFIX.test(prefix)) throw new ParameterError('q', 'may hold only the characters of a tag');
    const db = requireDb(deps.db);
    const visible = deps.visibleRepositories?.(res);
    const names = visible !== undefined && !visible.includes(filter.repository!) ? [] : await suggestTags(db, filter.repository!, prefix, SUGGEST_LIMIT);
    res.set('Cache-Control', 'no-store').json({ names });
  });

  router.get(`${METRICS_API}/suggest/architectures`, async (req, res) => {
    checkParameters(req.query as Record<string, unknown>, []);
    res.set('Cache-Control', 'no-store').json({ names: await listArchitectures(requireDb(deps.db), deps.visibleRepositories?.(res)) });
  });
  return router;
}
