// The /dashboard page: filters and empty panels; assets/dashboard.js fills them from /api/metrics/ and keeps the URL in step.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Router } from 'express';
import { utcDayOf } from '@staticreg/events';
import { accountOf } from '../auth/viewer.js';
import type { CsrfProtection } from '../csrf.js';
import { html, page, query, type Account, type SafeHtml } from '../html.js';
import { DAY_PRESETS, parseMetricsQuery, type ParsedMetricsQuery } from './params.js';

/** Chart.js's self-contained UMD build, served from node_modules (no CDN: the CSP allows 'self' only). */
export const CHART_JS_PATH = '/dashboard/vendor/chart.umd.min.js';
const CHART_JS_FILE = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

interface PanelSpec {
  id: string;
  title: string;
  question: string;
  /** A note shown instead of the chart until the filter names what the panel needs. */
  needs?: string;
  wide?: boolean;
}

/** One panel per question the dashboard answers (docs/dashboard.md), then the pipeline. */
export const PANEL_SPECS: readonly PanelSpec[] = [
  { id: 'daily', title: 'Pulls and checks per day', question: 'Pulls per day; pulls today', wide: true },
  { id: 'top-repositories', title: 'Top repositories', question: 'Total pulls by repository' },
  { id: 'top-tags', title: 'Top images (repository:tag)', question: 'Most pulled images' },
  { id: 'architectures', title: 'Pulls by architecture', question: 'Pull counts by architecture, with unique images' },
  { id: 'image-architectures', title: 'Architectures per tag', question: 'Breakdown of pulls by architecture for an image', needs: 'Choose a repository to see its tags by architecture.' },
  { id: 'daily-architectures', title: 'Daily trend by architecture', question: 'Daily pull trends with architecture breakdown', wide: true },
  { id: 'tag-digests', title: 'Digests of a tag over time', question: 'Image versions (digests) of a tag: when it moved, which is still pulled', needs: 'Choose a repository and a tag (e.g. latest) to see its digests.', wide: true },
];

function rangeLabel(parsed: ParsedMetricsQuery): string {
  return parsed.days !== undefined ? `last ${parsed.days} days` : `${parsed.filter.from} to ${parsed.filter.to}`;
}

function presetLinks(parsed: ParsedMetricsQuery): SafeHtml {
  const { repository, tag, architecture } = parsed.filter;
  return html`${DAY_PRESETS.map(
    (days) =>
      html`<a class="preset" data-days="${days}" href="/dashboard${query({ days, repository, tag, architecture })}"${parsed.days === days ? html` aria-current="true"` : ''}>${days} days</a>`,
  )}`;
}

function panel(spec: PanelSpec): SafeHtml {
  return html`<section class="panel${spec.wide ? ' wide' : ''}" id="panel-${spec.id}" data-panel="${spec.id}" data-state="loading" aria-busy="true">
  <header>
    <h2>${spec.title}</h2>
    <a class="csv" data-csv="${spec.id}" href="#" download>CSV</a>
  </header>
  <p class="question muted">${spec.question}</p>
  ${spec.needs ? html`<p class="needs note" hidden>${spec.needs}</p>` : ''}
  <div class="chart"><canvas role="img" aria-label="${spec.title}"></canvas></div>
  <p class="status muted" role="status"></p>
  <div class="table-wrap numbers"><table></table></div>
</section>`;
}

/** `csrfToken` goes back in the replay button's X-CSRF-Token header (assets/dashboard.js). */
function pipelinePanel(csrfToken: string): SafeHtml {
  return html`<section class="panel wide" id="panel-pipeline" data-panel="pipeline" data-state="loading" aria-busy="true" data-csrf-token="${csrfToken}">
  <header>
    <h2>Pipeline health</h2>
    <a class="csv" href="/api/metrics/pipeline?format=csv" download>CSV</a>
  </header>
  <p class="question muted">Queue, intake per minute (last hour), failed jobs, Redis and Postgres. Refreshed every 15 s.</p>
  <dl class="tiles"></dl>
  <div class="chart"><canvas role="img" aria-label="Events accepted and skipped per minute"></canvas></div>
  <p class="status muted" role="status"></p>
  <h3>Failed jobs <a class="csv" href="/api/metrics/failed-jobs?format=csv" download>CSV</a></h3>
  <div class="replay"><button type="button" class="replay-failed" hidden>Replay the failed jobs shown</button> <span class="replay-result muted" role="status"></span></div>
  <div class="table-wrap failed"><table></table></div>
</section>`;
}

export function renderDashboard(parsed: ParsedMetricsQuery, csrfToken: string, account?: Account): string {
  const { filter } = parsed;
  const body = html`<h1>Dashboard <span class="muted range">${rangeLabel(parsed)}</span></h1>
<form id="filters" class="filters" method="get" action="/dashboard" role="search">
  <div class="field presets" role="group" aria-label="Date range">${presetLinks(parsed)}</div>
  <div class="field custom">
    <label>From <input type="date" name="from" value="${filter.from}" required></label>
    <label>To <input type="date" name="to" value="${filter.to}" required></label>
  </div>
  <div class="field">
    <label>Repository <input name="repository" value="${filter.repository ?? ''}" list="repository-suggestions" autocomplete="off" spellcheck="false" placeholder="any"></label>
    <datalist id="repository-suggestions"></datalist>
  </div>
  <div class="field">
    <label>Tag <input name="tag" value="${filter.tag ?? ''}" list="tag-suggestions" autocomplete="off" spellcheck="false" placeholder="any"></label>
    <datalist id="tag-suggestions"></datalist>
  </div>
  <div class="field">
    <label>Architecture <select name="architecture"><option value="">any</option>${filter.architecture ? html`<option selected>${filter.architecture}</option>` : ''}</select></label>
  </div>
  <div class="field actions"><button type="submit">Apply</button> <a href="/dashboard">Reset</a></div>
  <p class="filter-error" role="alert" hidden></p>
</form>
<dl class="kpis" id="kpis">
  <div><dt>Pulls</dt><dd data-kpi="pulls">…</dd></div>
  <div><dt>Checks</dt><dd data-kpi="checks">…</dd></div>
  <div><dt data-kpi-label="last">Pulls on ${filter.to}</dt><dd data-kpi="last">…</dd></div>
  <div><dt>Busiest day</dt><dd data-kpi="busiest">…</dd></div>
</dl>
<div class="panels">
${PANEL_SPECS.map(panel)}
${account === undefined || account.admin ? pipelinePanel(csrfToken) : ''}
</div>`;
  return page({
    title: 'Dashboard',
    body,
    styles: ['/assets/dashboard.css'],
    scripts: [CHART_JS_PATH, '/assets/dashboard.js'],
    footer: html`Counts per UTC day. Pulls are downloads of an image; checks are manifest requests that downloaded nothing. Every panel is also JSON and CSV under <code>/api/metrics/</code>.`,
    account,
  });
}

export function createDashboardPageRouter(options: { now?: () => Date; csrf: CsrfProtection }): Router {
  const router = express.Router();
  router.get(CHART_JS_PATH, (_req, res) => {
    res.sendFile(CHART_JS_FILE, { maxAge: '1d' });
  });
  router.get('/dashboard', (req, res) => {
    const parsed = parseMetricsQuery(req.query as Record<string, unknown>, { today: utcDayOf(options.now?.() ?? new Date()) });
    // A signed-in viewer's session token is the one the sign-in layer checks; without a session, the page's own.
    const account = accountOf(res);
    const csrfToken = account?.csrfToken ?? options.csrf.issueToken(req, res);
    res.set('Cache-Control', 'no-store').type('html').send(renderDashboard(parsed, csrfToken, account));
  });
  return router;
}
