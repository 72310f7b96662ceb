// staticreg dashboard: fills each panel from /api/metrics/ with Chart.js, keeps the filters in the URL.
/* global Chart */
(function () {
  'use strict';

  const FILTER_KEYS = ['days', 'from', 'to', 'repository', 'tag', 'architecture'];
  const PIPELINE_REFRESH_MS = 15000;
  const charts = new Map();
  let generation = 0;

  const form = document.getElementById('filters');
  const number = new Intl.NumberFormat('en-US');

  // ---- URL state -------------------------------------------------------------------------------------------

  /** The filter as it is in the address bar (the one source of truth; the form mirrors it). */
  function currentParams() {
    const url = new URLSearchParams(window.location.search);
    const params = new URLSearchParams();
    for (const key of FILTER_KEYS) {
      const value = url.get(key);
      if (value) params.set(key, value);
    }
    if (!params.has('days') && !params.has('from')) params.set('days', '30');
    return params;
  }

  function formParams(changed) {
    const params = new URLSearchParams();
    const current = currentParams();
    const from = form.elements.from.value;
    const to = form.elements.to.value;
    // A preset stays a preset (it moves with the days) until a date is edited by hand.
    if ((changed === 'from' || changed === 'to') && from && to) {
      params.set('from', from);
      params.set('to', to);
    } else if (current.has('days')) params.set('days', current.get('days'));
    else {
      params.set('from', from);
      params.set('to', to);
    }
    for (const key of ['repository', 'tag', 'architecture']) {
      const value = form.elements[key].value.trim();
      if (value) params.set(key, value);
    }
    if (!params.get('repository')) params.delete('tag');
    return params;
  }

  function syncForm(params, filter) {
    form.elements.from.value = filter ? filter.from : params.get('from') || '';
    form.elements.to.value = filter ? filter.to : params.get('to') || '';
    form.elements.repository.value = params.get('repository') || '';
    form.elements.tag.value = params.get('tag') || '';
    ensureOption(form.elements.architecture, params.get('architecture') || '');
    form.elements.architecture.value = params.get('architecture') || '';
    for (const link of form.querySelectorAll('a.preset')) {
      const preset = new URLSearchParams(params);
      preset.delete('from');
      preset.delete('to');
      preset.set('days', link.dataset.days);
      link.href = `/dashboard?${preset}`;
      if (params.get('days') === link.dataset.days) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    }
    const range = document.querySelector('h1 .range');
    if (range) range.textContent = params.has('days') ? `last ${params.get('days')} days` : `${params.get('from')} to ${params.get('to') || 'today'}`;
  }

  function navigate(params) {
    const search = params.toString();
    window.history.pushState(null, '', search ? `/dashboard?${search}` : '/dashboard');
    loadAll();
  }

  // ---- colours ---------------------------------------------------------------------------------------------

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function palette() {
    return [1, 2, 3, 4, 5, 6, 7, 8].map((i) => css(`--series-${i}`));
  }

  function colourFor(index) {
    const colours = palette();
    return colours[index % colours.length];
  }

  /** Axis ticks of day labels as MM-DD, unrotated, as many as fit. */
  const dayTicks = { ticks: { maxRotation: 0, autoSkipPadding: 8, callback(value) { return String(this.getLabelForValue(value)).slice(5); } } };

  function applyChartDefaults() {
    Chart.defaults.color = css('--muted');
    Chart.defaults.borderColor = css('--line');
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.plugins.legend.labels.boxWidth = 12;
  }

  // ---- rendering helpers -----------------------------------------------------------------------------------

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function shortDigest(digest) {
    const [algorithm, hex] = String(digest).split(':');
    return hex ? `${algorithm}:${hex.slice(0, 12)}` : String(digest);
  }

  /** A table of the rows behind a chart; columns: [header, row => value, {numeric, title}]. */
  function renderTable(table, columns, rows) {
    table.replaceChildren();
    const head = el('tr', {}, columns.map(([header, , options]) => el('th', { className: options && options.numeric ? 'num' : '', text: header, scope: 'col' })));
    table.append(el('thead', {}, [head]));
    const body = el('tbody');
    for (const row of rows) {
      body.append(
        el(
          'tr',
          {},
          columns.map(([, value, options]) => {
            const raw = value(row);
            const cell = el('td', { className: options && options.numeric ? 'num' : options && options.mono ? 'mono' : '' });
            cell.textContent = typeof raw === 'number' ? number.format(raw) : raw === null || raw === undefined ? '–' : String(raw);
            if (options && options.title) cell.title = options.title(row);
            return cell;
          }),
        ),
      );
    }
    if (rows.length === 0) body.append(el('tr', {}, [el('td', { colspan: String(columns.length), className: 'muted', text: 'No counts for this filter.' })]));
    table.append(body);
  }

  function drawChart(section, config) {
    const canvas = section.querySelector('canvas');
    const previous = charts.get(section.id);
    if (previous) previous.destroy();
    charts.set(section.id, new Chart(canvas, config));
  }

  function clearChart(section) {
    const previous = charts.get(section.id);
    if (previous) previous.destroy();
    charts.delete(section.id);
  }

  function setState(section, state, message) {
    section.dataset.state = state;
    section.setAttribute('aria-busy', state === 'loading' ? 'true' : 'false');
    const status = section.querySelector('.status');
    if (status) status.textContent = message || '';
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { accept: 'application/json' } });
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  function daysOf(filter) {
    const days = [];
    for (let t = Date.parse(`${filter.from}T00:00:00Z`); t <= Date.parse(`${filter.to}T00:00:00Z`); t += 86400000) {
      days.push(new Date(t).toISOString().slice(0, 10));
    }
    return days;
  }

  /** Long rows (key, series, value) to one dataset per series over the given keys, zeros filled in. */
  function pivot(rows, keyOf, seriesOf, valueOf, keys) {
    const series = [];
    const values = new Map();
    for (const row of rows) {
      const name = seriesOf(row);
      if (!values.has(name)) {
        values.set(name, new Map());
        series.push(name);
      }
      values.get(name).set(keyOf(row), valueOf(row));
    }
    return series.map((name, i) => ({
      label: name,
      data: keys.map((key) => values.get(name).get(key) || 0),
      backgroundColor: colourFor(i),
      borderColor: colourFor(i),
    }));
  }

  const stackedBars = (horizontal) => ({
    indexAxis: horizontal ? 'y' : 'x',
    scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true, beginAtZero: true } },
    plugins: { legend: { position: 'bottom' } },
  });

  function withDayTicks(options) {
    options.scales.x = { ...options.scales.x, ...dayTicks };
    return options;
  }

  // ---- panels ----------------------------------------------------------------------------------------------

  const PANELS = {
    daily: {
      render(section, body) {
        const rows = body.rows;
        drawChart(section, {
          type: 'bar',
          data: {
            labels: rows.map((r) => r.date),
            datasets: [
              { type: 'bar', label: 'pulls', data: rows.map((r) => r.pulls), backgroundColor: colourFor(0), order: 2 },
              { type: 'line', label: 'checks', data: rows.map((r) => r.checks), borderColor: colourFor(1), backgroundColor: colourFor(1), pointRadius: 2, tension: 0.2, order: 1 },
            ],
          },
          options: { scales: { x: dayTicks, y: { beginAtZero: true } }, plugins: { legend: { position: 'bottom' } } },
        });
        renderTable(section.querySelector('table'), [['Day', (r) => r.date], ['Pulls', (r) => r.pulls, { numeric: true }], ['Checks', (r) => r.checks, { numeric: true }]], rows.slice().reverse());
        updateKpis(body);
      },
    },
    'top-repositories': {
      render(section, body) {
        const rows = body.rows;
        drawChart(section, {
          type: 'bar',
          data: {
            labels: rows.map((r) => r.repository),
            datasets: [
              { label: 'pulls', data: rows.map((r) => r.pulls), backgroundColor: colourFor(0) },
              { label: 'checks', data: rows.map((r) => r.checks), backgroundColor: colourFor(1) },
            ],
          },
          options: { indexAxis: 'y', scales: { x: { beginAtZero: true } }, plugins: { legend: { position: 'bottom' } } },
        });
        renderTable(section.querySelector('table'), [['Repository', (r) => r.repository, { mono: true }], ['Pulls', (r) => r.pulls, { numeric: true }], ['Checks', (r) => r.checks, { numeric: true }]], rows);
      },
    },
    'top-tags': {
      render(section, body) {
        const rows = body.rows;
        drawChart(section, {
          type: 'bar',
          data: {
            labels: rows.map((r) => `${r.repository}:${r.tag}`),
            datasets: [
              { label: 'pulls', data: rows.map((r) => r.pulls), backgroundColor: colourFor(0) },
              { label: 'checks', data: rows.map((r) => r.checks), backgroundColor: colourFor(1) },
            ],
          },
          options: { indexAxis: 'y', scales: { x: { beginAtZero: true } }, plugins: { legend: { position: 'bottom' } } },
        });
        renderTable(
          section.querySelector('table'),
          [['Repository', (r) => r.repository, { mono: true }], ['Tag', (r) => r.tag, { mono: true }], ['Pulls', (r) => r.pulls, { numeric: true }], ['Checks', (r) => r.checks, { numeric: true }]],
          rows,
        );
      },
    },
    architectures: {
      render(section, body) {
        const rows = body.rows;
        drawChart(section, {
          type: 'doughnut',
          data: { labels: rows.map((r) => r.architecture), datasets: [{ label: 'pulls', data: rows.map((r) => r.pulls), backgroundColor: rows.map((_, i) => colourFor(i)), borderColor: css('--bg') }] },
          options: { plugins: { legend: { position: 'right' } } },
        });
        renderTable(
          section.querySelector('table'),
          [['Architecture', (r) => r.architecture, { mono: true }], ['Pulls', (r) => r.pulls, { numeric: true }], ['Checks', (r) => r.checks, { numeric: true }], ['Repositories', (r) => r.repositories, { numeric: true }]],
          rows,
        );
      },
    },
    'daily-architectures': {
      render(section, body) {
        const days = daysOf(body.filter);
        drawChart(section, {
          type: 'bar',
          data: { labels: days, datasets: pivot(body.rows, (r) => r.date, (r) => r.architecture, (r) => r.pulls, days) },
          options: withDayTicks(stackedBars(false)),
        });
        renderTable(section.querySelector('table'), [['Day', (r) => r.date], ['Architecture', (r) => r.architecture, { mono: true }], ['Pulls', (r) => r.pulls, { numeric: true }]], body.rows.slice().reverse());
      },
    },
    'image-architectures': {
      needs: ['repository'],
      render(section, body) {
        const tags = [];
        for (const row of body.rows) if (!tags.includes(row.tag)) tags.push(row.tag);
        drawChart(section, {
          type: 'bar',
          data: { labels: tags, datasets: pivot(body.rows, (r) => r.tag, (r) => r.architecture, (r) => r.pulls, tags) },
          options: stackedBars(true),
        });
        renderTable(section.querySelector('table'), [['Tag', (r) => r.tag, { mono: true }], ['Architecture', (r) => r.architecture, { mono: true }], ['Pulls', (r) => r.pulls, { numeric: true }]], body.rows);
      },
    },
    'tag-digests': {
      needs: ['repository', 'tag'],
      async load(params) {
        const [summary, daily] = await Promise.all([getJson(`/api/metrics/tag-digests?${params}`), getJson(`/api/metrics/tag-digests/daily?${params}`)]);
        return { ...summary, daily: daily.rows };
      },
      render(section, body) {
        const days = daysOf(body.filter);
        const datasets = pivot(body.daily, (r) => r.date, (r) => r.digest, (r) => r.pulls, days);
        for (const dataset of datasets) dataset.label = shortDigest(dataset.label);
        drawChart(section, { type: 'bar', data: { labels: days, datasets }, options: withDayTicks(stackedBars(false)) });
        const to = body.filter.to;
        renderTable(
          section.querySelector('table'),
          [
            ['Digest', (r) => shortDigest(r.digest), { mono: true, title: (r) => r.digest }],
            ['Pulls', (r) => r.pulls, { numeric: true }],
            ['Checks', (r) => r.checks, { numeric: true }],
            ['First pulled', (r) => r.firstPulled],
            ['Last pulled', (r) => (r.lastPulled === to ? `${r.lastPulled} (still pulled)` : r.lastPulled)],
            ['Last seen (UTC)', (r) => (r.lastSeenAt ? r.lastSeenAt.replace('T', ' ').replace('Z', '') : null)],
          ],
          body.rows,
        );
      },
    },
  };

  function updateKpis(body) {
    const rows = body.rows;
    const pulls = rows.reduce((sum, r) => sum + r.pulls, 0);
    const checks = rows.reduce((sum, r) => sum + r.checks, 0);
    const last = rows[rows.length - 1];
    const busiest = rows.reduce((best, r) => (!best || r.pulls > best.pulls ? r : best), null);
    const set = (key, text) => {
      const node = document.querySelector(`[data-kpi="${key}"]`);
      if (node) node.textContent = text;
    };
    set('pulls', number.format(pulls));
    set('checks', number.format(checks));
    set('last', last ? number.format(last.pulls) : '–');
    set('busiest', busiest && busiest.pulls > 0 ? `${busiest.date} (${number.format(busiest.pulls)})` : '–');
    const label = document.querySelector('[data-kpi-label="last"]');
    if (label && last) label.textContent = last.date === new Date().toISOString().slice(0, 10) ? 'Pulls today' : `Pulls on ${last.date}`;
  }

  async function loadPanel(name, params, run) {
    const section = document.getElementById(`panel-${name}`);
    const spec = PANELS[name];
    const csv = section.querySelector('a.csv');
    const missing = (spec.needs || []).filter((key) => !params.get(key));
    const needs = section.querySelector('.needs');
    if (needs) needs.hidden = missing.length === 0;
    csv.hidden = missing.length > 0;
    if (missing.length > 0) {
      clearChart(section);
      section.querySelector('table').replaceChildren();
      section.classList.add('waiting');
      setState(section, 'needs', '');
      return;
    }
    section.classList.remove('waiting');
    csv.href = `/api/metrics/${name}?${params}&format=csv`;
    setState(section, 'loading', 'Loading…');
    try {
      const body = spec.load ? await spec.load(params) : await getJson(`/api/metrics/${name}?${params}`);
      if (run !== generation) return; // a newer filter is on its way
      spec.render(section, body);
      setState(section, 'drawn', body.rows.length === 0 ? 'No counts for this filter.' : '');
    } catch (error) {
      if (run !== generation) return;
      clearChart(section);
      setState(section, 'error', error.message);
    }
  }

  async function loadAll() {
    const run = ++generation;
    delete document.body.dataset.loaded;
    for (const name of Object.keys(PANELS)) setState(document.getElementById(`panel-${name}`), 'loading', 'Loading…');
    const params = currentParams();
    syncForm(params);
    const error = form.querySelector('.filter-error');
    error.hidden = true;
    // The daily panel validates the filter first, so a bad one is reported once, by name.
    try {
      const check = await getJson(`/api/metrics/daily?${params}`);
      syncForm(params, check.filter);
    } catch (problem) {
      if (run !== generation) return;
      error.textContent = problem.message;
      error.hidden = false;
    }
    await Promise.all(Object.keys(PANELS).map((name) => loadPanel(name, params, run)));
    document.body.dataset.loaded = String(run);
  }

  // ---- pipeline health -------------------------------------------------------------------------------------

  function age(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
    return `${Math.floor(seconds / 86400)} days`;
  }

  function since(iso) {
    if (!iso) return 'none yet';
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return `${age(seconds)} ago`;
  }

  /** Whether the workers count, or since when and why a systemic error keeps them paused (events wait in Redis). */
  function countingTile(health, tile) {
    const pause = health.countingPause;
    if (health.countingPause === undefined || (pause === null && !health.queue)) return tile('Counting', '–');
    if (pause === null) return tile('Counting', 'running', 'good');
    const reason = `${pause.sqlstate ? `SQLSTATE ${pause.sqlstate}: ` : ''}${pause.message}`;
    return tile('Counting', `paused ${since(pause.since).replace(' ago', '')}: ${reason}`, 'bad');
  }

  /** The failed jobs the table shows: the replay button replays these, and only these. */
  let shownFailedJobIds = [];

  async function replayFailed() {
    const section = document.getElementById('panel-pipeline');
    const button = section.querySelector('button.replay-failed');
    const result = section.querySelector('.replay-result');
    button.disabled = true;
    try {
      const response = await fetch('/api/metrics/failed-jobs/replay', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': section.dataset.csrfToken },
        body: JSON.stringify({ jobIds: shownFailedJobIds }),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
      result.textContent = `Replayed ${number.format(answer.replayed)} failed job${answer.replayed === 1 ? '' : 's'}.`;
      result.dataset.replayed = String(answer.replayed);
    } catch (error) {
      result.textContent = `Replay failed: ${error.message}`;
    } finally {
      button.disabled = false;
    }
    await loadPipeline();
  }

  async function loadPipeline() {
    const section = document.getElementById('panel-pipeline');
    // Only admins get the pipeline panel (and its API).
    if (!section) return;
    try {
      const [health, intake, failed] = await Promise.all([getJson('/api/metrics/pipeline'), getJson('/api/metrics/intake?minutes=60'), getJson('/api/metrics/failed-jobs?limit=20')]);
      const tiles = section.querySelector('.tiles');
      const queue = health.queue || {};
      const tile = (label, value, state) => el('div', { className: `tile ${state || ''}` }, [el('dt', { text: label }), el('dd', { text: value })]);
      const status = (s) => (s.status === 'ok' ? `ok (${s.latencyMs} ms)` : s.status);
      tiles.replaceChildren(
        tile('Waiting', health.queue ? number.format(queue.waiting) : '–', queue.waiting > 1000 ? 'warn' : ''),
        tile('Active', health.queue ? number.format(queue.active) : '–'),
        tile('Delayed', health.queue ? number.format(queue.delayed) : '–'),
        tile('Failed', health.queue ? number.format(queue.failed) : '–', queue.failed > 0 ? 'bad' : ''),
        tile('Oldest waiting', age(health.oldestWaitingAgeSeconds), health.oldestWaitingAgeSeconds > 60 ? 'warn' : ''),
        tile('Last event received', since(health.lastEventReceivedAt)),
        tile('Accepted, last hour', health.lastHour ? number.format(health.lastHour.accepted) : '–'),
        tile('Skipped, last hour', health.lastHour ? number.format(Object.values(health.lastHour.skipped).reduce((a, b) => a + b, 0)) : '–'),
        tile('Redis', status(health.redis), health.redis.status === 'ok' ? 'good' : 'bad'),
        tile('Postgres', status(health.postgres), health.postgres.status === 'ok' ? 'good' : health.postgres.status === 'not configured' ? 'warn' : 'bad'),
        countingTile(health, tile),
      );
      const minutes = intake.rows.map((r) => r.minute.slice(11, 16));
      const datasets = [{ label: 'accepted', data: intake.rows.map((r) => r.accepted), backgroundColor: colourFor(0) }];
      intake.reasons.forEach((reason, i) => {
        const data = intake.rows.map((r) => r.skipped[reason] || 0);
        if (data.some((n) => n > 0)) datasets.push({ label: `skipped: ${reason}`, data, backgroundColor: colourFor(i + 2) });
      });
      drawChart(section, { type: 'bar', data: { labels: minutes, datasets }, options: stackedBars(false) });
      renderTable(
        section.querySelector('.failed table'),
        [
          ['Failed at (UTC)', (r) => (r.failedAt ? r.failedAt.slice(0, 19).replace('T', ' ') : null)],
          ['Event', (r) => r.eventId, { mono: true }],
          ['Image', (r) => (r.repository ? `${r.repository}:${r.tag || shortDigest(r.digest)}` : null), { mono: true }],
          ['Attempts', (r) => r.attemptsMade, { numeric: true }],
          ['Error', (r) => r.error],
        ],
        failed.rows,
      );
      shownFailedJobIds = failed.rows.map((r) => r.jobId);
      const button = section.querySelector('button.replay-failed');
      button.hidden = shownFailedJobIds.length === 0;
      button.textContent = `Replay the ${number.format(shownFailedJobIds.length)} failed job${shownFailedJobIds.length === 1 ? '' : 's'} shown`;
      setState(section, 'drawn', `Updated ${new Date(health.generatedAt).toISOString().slice(11, 19)} UTC`);
    } catch (error) {
      setState(section, 'error', error.message);
    }
  }

  // ---- autocomplete ----------------------------------------------------------------------------------------

  function debounce(fn, ms) {
    let timer;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  async function suggest(list, path) {
    try {
      const { names } = await getJson(path);
      list.replaceChildren(...names.map((name) => el('option', { value: name })));
    } catch {
      list.replaceChildren();
    }
  }

  function ensureOption(select, value) {
    if (value && ![...select.options].some((option) => option.value === value)) select.append(el('option', { value, text: value }));
  }

  async function loadArchitectures() {
    try {
      const { names } = await getJson('/api/metrics/suggest/architectures');
      for (const name of names) ensureOption(form.elements.architecture, name);
    } catch {
      // the select still offers "any" and the current value
    }
  }

  // ---- wiring ----------------------------------------------------------------------------------------------

  applyChartDefaults();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(formParams());
  });
  form.addEventListener('change', (event) => {
    const name = event.target.name;
    if (name === 'repository' || name === 'tag') return; // typed: applied on Enter, Apply, or a picked suggestion
    navigate(formParams(name));
  });
  for (const link of form.querySelectorAll('a.preset')) {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      const params = currentParams();
      params.delete('from');
      params.delete('to');
      params.set('days', link.dataset.days);
      navigate(params);
    });
  }
  const repositoryInput = form.elements.repository;
  repositoryInput.addEventListener(
    'input',
    debounce(() => {
      const value = repositoryInput.value.trim();
      if (/^[a-z0-9._/-]*$/.test(value)) suggest(document.getElementById('repository-suggestions'), `/api/metrics/suggest/repositories?q=${encodeURIComponent(value)}`);
    }, 150),
  );
  // Picking a suggestion from the datalist fires 'input' with the whole name: apply it at once.
  repositoryInput.addEventListener('input', (event) => {
    if (event.inputType === 'insertReplacementText' || event.inputType === undefined) navigate(formParams());
  });
  const tagInput = form.elements.tag;
  tagInput.addEventListener('focus', () => {
    const repository = repositoryInput.value.trim();
    if (repository) suggest(document.getElementById('tag-suggestions'), `/api/metrics/suggest/tags?repository=${encodeURIComponent(repository)}`);
  });
  tagInput.addEventListener('input', (event) => {
    if (event.inputType === 'insertReplacementText' || event.inputType === undefined) navigate(formParams());
  });
  window.addEventListener('popstate', loadAll);
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    applyChartDefaults();
    loadAll();
    loadPipeline();
  });

  document.querySelector('#panel-pipeline button.replay-failed').addEventListener('click', replayFailed);

  loadArchitectures();
  loadAll();
  loadPipeline();
  setInterval(loadPipeline, PIPELINE_REFRESH_MS);
})();
