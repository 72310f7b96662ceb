// The registry pages as HTML: every registry string goes through html`` (escaped); scripts only from /assets.
import { platformLabel, type FolderListing, type ImageDetails, type RepositoryInfo, type TagUsage } from '@staticreg/catalog';
import { html, page, query, SafeHtml, type Account, type Crumb } from '../html.js';
import { formatAge, formatBytes, formatCount, formatTime, shortDigest } from './format.js';
import { UNSEEN_CHOICES } from './params.js';
import type { CatalogState, RepositoryView, TagDetailView, TagView } from './service.js';

const STYLES = ['/assets/registry.css'];
const SCRIPTS = ['/assets/registry.js'];

export function repositoryHref(name: string): string {
  return `/r/${name.split('/').map(encodeURIComponent).join('/')}`;
}

export function tagHref(name: string, tag: string): string {
  return `${repositoryHref(name)}/-/tags/${encodeURIComponent(tag)}`;
}

export function folderHref(path: string): string {
  return `/${query({ path })}`;
}

/** Repositories / a / b / c, each segment a folder link, the last one as given. */
function pathCrumbs(path: string, last?: Crumb): Crumb[] {
  const crumbs: Crumb[] = [{ label: 'Repositories', href: '/' }];
  const segments = path === '' ? [] : path.split('/');
  segments.forEach((segment, i) => {
    const isLast = i === segments.length - 1;
    if (isLast && last) crumbs.push({ label: segment, ...(last.href ? { href: last.href } : {}) });
    else crumbs.push({ label: segment, href: folderHref(segments.slice(0, i + 1).join('/')) });
  });
  return crumbs;
}

function timeTag(iso: string | undefined, fallback = '—'): SafeHtml {
  return iso ? html`<time datetime="${iso}" title="${iso}">${formatTime(iso)}</time>` : html`<span class="muted">${fallback}</span>`;
}

function ageTag(ms: number | undefined, now: number, fallback: string): SafeHtml {
  if (ms === undefined) return html`<span class="muted">${fallback}</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}" title="${iso}">${formatAge(ms, now)}</time>`;
}

/** What the page shows and how old it is: the footer of every registry page. */
function freshness(state: CatalogState, now: number, repository?: RepositoryInfo): SafeHtml {
  const crawler = state.crawler;
  const pass =
    crawler && crawler.state === 'refreshing'
      ? html` · crawl pass: ${formatCount(crawler.passDone)} of ${formatCount(crawler.passTotal)} repositories read`
      : crawler?.lastPassFinishedAt
        ? html` · last full pass ${ageTag(crawler.lastPassFinishedAt, now, '')}`
        : '';
  return html`<span class="freshness">Catalog listed ${ageTag(state.catalogListedAt, now, 'not yet')}${
    repository ? html` · tags of this repository read ${ageTag(repository.refreshedAt, now, 'not yet')}` : ''
  }${pass} · ${formatCount(state.repositories)} repositories, ${formatCount(state.tags)} tags${state.truncated ? ' (memory bound reached: some tags are not indexed)' : ''}</span>`;
}

function registryBanner(state: CatalogState): SafeHtml | string {
  if (!state.registryFailing) return '';
  return html`<p class="banner bad" role="status">The registry is not answering right now (${state.registryError ?? 'unknown error'}). This page shows what was read before.</p>`;
}

/** Browse started without STATICREG_REGISTRY_HOSTNAME: what to set, and what works meanwhile. */
export function registryNotConfiguredPage(account?: Account): string {
  const body = html`<section class="setup">
<h1>No registry configured</h1>
<p>This browse process was started without <code>STATICREG_REGISTRY_HOSTNAME</code>, so it has no registry to list repositories and tags from.</p>
<p>Set it to the registry's <code>host:port</code> (plain HTTP) or its <code>https://</code> URL, then restart browse. Credentials and a CA file, if the registry needs them: <code>STATICREG_REGISTRY_USER</code>, <code>STATICREG_REGISTRY_PASSWORD</code> or <code>STATICREG_REGISTRY_PASSWORD_FILE</code>, <code>STATICREG_REGISTRY_CA_FILE</code> (docs/configuration.md).</p>
<pre><code>STATICREG_REGISTRY_HOSTNAME=registry.example.com:5000</code></pre>
<p>Meanwhile the <a href="/dashboard">dashboard</a> works: it reads the counts the worker stored and the pipeline's health, not the registry.</p>
</section>`;
  return page({ title: 'No registry configured', styles: STYLES, body, account });
}

function searchForm(value = ''): SafeHtml {
  return html`<form class="search" action="/search" method="get" role="search">
  <label class="visually-hidden" for="registry-search">Search repositories</label>
  <input id="registry-search" name="q" type="search" value="${value}" placeholder="Search repositories" autocomplete="off" data-suggest="/api/search" aria-autocomplete="list" aria-controls="registry-suggestions" aria-expanded="false">
  <button type="submit">Search</button>
  <ul id="registry-suggestions" class="suggestions" role="listbox" hidden></ul>
</form>`;
}

function pager(current: number, pageSize: number, total: number, hrefFor: (page: number) => string): SafeHtml | string {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages <= 1) return '';
  return html`<nav class="pager" aria-label="Pages">
  ${current > 1 ? html`<a rel="prev" href="${hrefFor(current - 1)}">← Previous</a>` : html`<span class="muted">← Previous</span>`}
  <span>Page ${formatCount(current)} of ${formatCount(pages)}</span>
  ${current < pages ? html`<a rel="next" href="${hrefFor(current + 1)}">Next →</a>` : html`<span class="muted">Next →</span>`}
</nav>`;
}

export function homePage(view: { listing: FolderListing; state: CatalogState; page: number; pageSize: number }, now: number, account?: Account): string {
  const { listing, state } = view;
  const path = listing.path;
  const rows = listing.entries.map(
    (entry) => html`<tr>
  <td class="name">${entry.isRepository ? html`<a class="repo" href="${repositoryHref(entry.path)}">${entry.name}</a>` : html`<a class="folder" href="${folderHref(entry.path)}">${entry.name}/</a>`}${
    entry.isRepository && entry.repositoriesBelow > 0 ? html` <a class="folder small" href="${folderHref(entry.path)}" title="Repositories under ${entry.path}/">${entry.name}/…</a>` : ''
  }</td>
  <td class="num">${entry.repositoriesBelow > 0 ? formatCount(entry.repositoriesBelow) : ''}</td>
  <td class="num">${formatCount(entry.tags)}</td>
</tr>`,
  );
  const body = html`<section class="registry-home">
<div class="headline">
  <h1>${path === '' ? 'Repositories' : `${path}/`}</h1>
  ${searchForm()}
</div>
${registryBanner(state)}
${listing.isRepository ? html`<p class="note"><a href="${repositoryHref(path)}">${path}</a> is also a repository.</p>` : ''}
${
  listing.total === 0
    ? html`<p class="note">The registry has no repositories${path ? ' here' : ''}.</p>`
    : html`<div class="table-wrap"><table class="listing">
<thead><tr><th>Name</th><th class="num">Repositories below</th><th class="num">Tags</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>
${pager(view.page, view.pageSize, listing.total, (n) => `/${query({ path, page: n > 1 ? n : undefined })}`)}`
}
</section>`;
  return page({ title: path === '' ? 'Repositories' : path, crumbs: path === '' ? [] : pathCrumbs(path), body, styles: STYLES, scripts: SCRIPTS, footer: freshness(state, now), account });
}

export function searchPage(q: string, result: { total: number; repositories: RepositoryInfo[]; page: number; pageSize: number }, state: CatalogState, now: number, account?: Account): string {
  const body = html`<section class="registry-search">
<div class="headline"><h1>Search</h1>${searchForm(q)}</div>
${registryBanner(state)}
${
  q === ''
    ? html`<p class="note">Type part of a repository name.</p>`
    : result.total === 0
      ? html`<p class="note">No repository name contains “${q}”.</p>`
      : html`<p>${formatCount(result.total)} ${result.total === 1 ? 'repository' : 'repositories'} matching “${q}”.</p>
<div class="table-wrap"><table class="listing"><thead><tr><th>Repository</th><th class="num">Tags</th><th>Tags read</th></tr></thead><tbody>
${result.repositories.map((repository) => html`<tr><td class="name"><a class="repo" href="${repositoryHref(repository.name)}">${repository.name}</a></td><td class="num">${formatCount(repository.tagCount)}</td><td>${ageTag(repository.refreshedAt, now, 'not yet')}</td></tr>`)}
</tbody></table></div>
${pager(result.page, result.pageSize, result.total, (n) => `/search${query({ q, page: n > 1 ? n : undefined })}`)}`
}
</section>`;
  return page({ title: q ? `Search: ${q}` : 'Search', crumbs: [{ label: 'Repositories', href: '/' }, { label: 'Search' }], body, styles: STYLES, scripts: SCRIPTS, footer: freshness(state, now), account });
}

function platformChips(tag: TagView): SafeHtml {
  if (tag.platforms.length === 0) return html`<span class="muted">${tag.kind ? 'none' : 'not read yet'}</span>`;
  return html`<ul class="chips">${tag.platforms.map((platform) => html`<li title="${platform.digest}">${platformLabel(platform)}</li>`)}</ul>`;
}

function copyCommand(command: string): SafeHtml {
  return html`<span class="pull"><code>${command}</code><button type="button" class="copy" data-copy="${command}" aria-label="Copy the pull command">Copy</button></span>`;
}

function lastSeenCell(usage: TagUsage | undefined): SafeHtml {
  if (!usage?.lastSeen) return html`<span class="muted">never</span>`;
  const how = usage.lastSeen === usage.lastPulled ? 'pulled' : 'checked';
  return html`<span title="last pulled ${usage.lastPulled ?? 'never'}, last checked ${usage.lastChecked ?? 'never'}">${usage.lastSeen}</span> <span class="muted small">${how}</span>`;
}

export function repositoryPage(view: RepositoryView, state: CatalogState, now: number, account?: Account): string {
  const name = view.repository.name;
  const { params } = view;
  const link = (overrides: Record<string, string | number | undefined>): string =>
    `${repositoryHref(name)}${query({ sort: params.sort === 'name' ? undefined : params.sort, order: undefined, unseen: params.unseenDays, ...overrides })}`;
  const sortHeader = (label: string, sort: 'name' | 'created' | 'pulls' | 'last-seen', className = ''): SafeHtml => {
    const active = params.sort === sort;
    const nextOrder = active ? (params.order === 'asc' ? 'desc' : 'asc') : sort === 'name' ? 'asc' : 'desc';
    const arrow = active ? (params.order === 'asc' ? ' ▲' : ' ▼') : '';
    return html`<th class="${className}" aria-sort="${active ? (params.order === 'asc' ? 'ascending' : 'descending') : 'none'}"><a class="sort" href="${link({ sort, order: nextOrder, page: undefined })}">${label}${arrow}</a></th>`;
  };
  const usage = view.usageAvailable;
  const rows = view.tags.map(
    (tag) => html`<tr>
  <td class="name" data-label="Tag"><a href="${tagHref(name, tag.tag)}">${tag.tag}</a></td>
  <td data-label="Digest"><code title="${tag.digest}">${tag.shortDigest}</code></td>
  <td data-label="Created">${timeTag(tag.created, tag.kind ? 'unknown' : 'not read yet')}</td>
  <td data-label="Platforms">${platformChips(tag)}</td>
  <td class="num" data-label="Size">${tag.size === undefined ? '' : formatBytes(tag.size)}</td>
  ${
    usage
      ? html`<td class="num" data-label="Pulls 7d · 30d"><span class="pulls7">${formatCount(tag.usage?.pulls7 ?? 0)}</span> · <span class="pulls30">${formatCount(tag.usage?.pulls30 ?? 0)}</span></td><td class="num" data-label="Checks 7d · 30d"><span class="checks7">${formatCount(tag.usage?.checks7 ?? 0)}</span> · <span class="checks30">${formatCount(tag.usage?.checks30 ?? 0)}</span></td><td data-label="Last seen">${lastSeenCell(tag.usage)}</td>`
      : ''
  }
  <td data-label="Pull">${copyCommand(tag.pullCommand)}</td>
</tr>`,
  );
  const filter = usage
    ? html`<form class="filters" method="get" action="${repositoryHref(name)}">
  ${params.sort !== 'name' ? html`<input type="hidden" name="sort" value="${params.sort}">` : ''}
  <label for="unseen">Show</label>
  <select id="unseen" name="unseen" data-autosubmit>
    <option value="">all tags</option>
    ${UNSEEN_CHOICES.map((days) => html`<option value="${days}"${params.unseenDays === days ? new SafeHtml(' selected') : ''}>not pulled or checked in ${days} days</option>`)}
    ${params.unseenDays !== undefined && !(UNSEEN_CHOICES as readonly number[]).includes(params.unseenDays) ? html`<option value="${params.unseenDays}" selected>not pulled or checked in ${params.unseenDays} days</option>` : ''}
  </select>
  <button type="submit">Apply</button>
  <span class="muted small">“Last seen” is the last day the tag was pulled or checked (a HEAD request for the tag, as an up-to-date <code>docker pull</code> or a kubelet makes), so an image checked daily is not shown as unused.</span>
</form>`
    : html`<p class="note">Pull counts are not shown: browse has no database (set <code>STATICREG_DB_URL</code> to see pulls, checks and last seen, and to find unused tags).</p>`;
  const body = html`<section class="registry-repository">
<div class="headline"><h1>${name}</h1><span class="muted">${formatCount(view.repository.tagCount)} tags</span></div>
${registryBanner(state)}
${view.repository.error ? html`<p class="banner warn">The last refresh of this repository failed: ${view.repository.error}</p>` : ''}
${view.repository.truncated ? html`<p class="banner warn">Some tags of this repository are not indexed: the in-memory catalog reached its bound (<code>STATICREG_BROWSE_MEMORY_MAX_TAGS</code>).</p>` : ''}
${filter}
${
  view.unseenSince
    ? html`<p class="note">${formatCount(view.total)} of ${formatCount(view.repository.tagCount)} tags were neither pulled nor checked since ${view.unseenSince} (the last ${view.params.unseenDays} days).</p>`
    : ''
}
${
  view.total === 0
    ? html`<p class="note">${view.unseenSince ? 'Every tag was pulled or checked in that time.' : 'This repository has no tags.'}</p>`
    : html`<div class="table-wrap"><table class="tags">
<thead><tr>${sortHeader('Tag', 'name')}<th>Digest</th>${sortHeader('Created', 'created')}<th>Platforms</th><th class="num">Size</th>${
        usage ? html`${sortHeader('Pulls 7d · 30d', 'pulls', 'num')}<th class="num">Checks 7d · 30d</th>${sortHeader('Last seen', 'last-seen')}` : ''
      }<th>Pull</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>
${pager(params.page, view.pageSize, view.total, (n) => link({ order: params.order === (params.sort === 'name' ? 'asc' : 'desc') ? undefined : params.order, page: n > 1 ? n : undefined }))}`
}
</section>`;
  return page({
    title: name,
    crumbs: pathCrumbs(name, { label: name.split('/').at(-1)! }),
    body,
    styles: STYLES,
    scripts: SCRIPTS,
    footer: freshness(state, now, view.repository),
    account,
  });
}

function definition(label: string, value: SafeHtml | string | undefined): SafeHtml | string {
  return value === undefined || value === '' ? '' : html`<dt>${label}</dt><dd>${value}</dd>`;
}

function list(values: string[] | undefined): SafeHtml | undefined {
  return values && values.length > 0 ? html`<code>${JSON.stringify(values)}</code>` : undefined;
}

function prettyJson(raw: string): string {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}

function imageSection(image: ImageDetails, heading: string): SafeHtml {
  const config = image.config;
  const labels = Object.entries(config?.labels ?? {});
  const annotations = Object.entries(image.annotations);
  return html`<section class="image" id="${`image-${shortDigest(image.digest)}`}">
<h2>${heading}</h2>
<dl class="facts">
  ${definition('Digest', html`<code>${image.digest}</code>`)}
  ${definition('Media type', html`<code>${image.mediaType}</code>`)}
  ${definition('Size', `${formatBytes(image.size)} (config and layers, compressed)`)}
  ${definition('Created', config?.created ? timeTag(config.created) : html`<span class="muted">unknown</span>`)}
  ${definition('Platform', config ? platformLabel(config) : undefined)}
  ${definition('Author', config?.author)}
  ${definition('Entrypoint', list(config?.entrypoint))}
  ${definition('Command', list(config?.cmd))}
  ${definition('Working directory', config?.workingDir)}
  ${definition('User', config?.user)}
  ${definition('Exposed ports', config && config.exposedPorts.length > 0 ? config.exposedPorts.join(', ') : undefined)}
  ${definition('Config', html`<code>${image.configDescriptor.digest}</code> · ${formatBytes(image.configDescriptor.size)}`)}
  ${definition('Artifact type', image.artifactType)}
</dl>
${config ? '' : html`<p class="note">The image config could not be read (not an image config, or missing from the registry).</p>`}
${
  labels.length > 0
    ? html`<h3>Labels</h3><div class="table-wrap"><table class="kv"><tbody>${labels.map(([key, value]) => html`<tr><th scope="row"><code>${key}</code></th><td>${value}</td></tr>`)}</tbody></table></div>`
    : ''
}
${
  annotations.length > 0
    ? html`<h3>Annotations</h3><div class="table-wrap"><table class="kv"><tbody>${annotations.map(([key, value]) => html`<tr><th scope="row"><code>${key}</code></th><td>${value}</td></tr>`)}</tbody></table></div>`
    : ''
}
<h3>Layers (${image.layers.length})</h3>
<div class="table-wrap"><table class="layers"><thead><tr><th>#</th><th>Digest</th><th class="num">Size</th><th>Media type</th></tr></thead><tbody>
${image.layers.map((layer, i) => html`<tr><td class="num">${i + 1}</td><td><code title="${layer.digest}">${shortDigest(layer.digest)}</code></td><td class="num">${formatBytes(layer.size)}</td><td><code class="small">${layer.mediaType}</code></td></tr>`)}
</tbody></table></div>
${
  config && config.history.length > 0
    ? html`<h3>History</h3><div class="table-wrap"><table class="history"><thead><tr><th>Created</th><th>Step</th><th>Layer</th></tr></thead><tbody>
${config.history.map((entry) => html`<tr><td>${timeTag(entry.created)}</td><td><code class="step">${entry.createdBy ?? ''}</code>${entry.comment ? html`<div class="muted small">${entry.comment}</div>` : ''}</td><td>${entry.emptyLayer ? html`<span class="muted">none</span>` : 'yes'}</td></tr>`)}
</tbody></table></div>`
    : ''
}
<details class="raw"><summary>Raw manifest JSON</summary><pre><code>${prettyJson(image.raw)}</code></pre></details>
</section>`;
}

function usageFacts(usage: TagUsage | undefined, available: boolean): SafeHtml | string {
  if (!available) return definition('Pulls', html`<span class="muted">not shown: no database (<code>STATICREG_DB_URL</code>)</span>`);
  const value = usage ?? { pulls7: 0, pulls30: 0, checks7: 0, checks30: 0 };
  return html`${definition('Pulls', `${formatCount(value.pulls7)} in 7 days · ${formatCount(value.pulls30)} in 30 days`)}
${definition('Checks', `${formatCount(value.checks7)} in 7 days · ${formatCount(value.checks30)} in 30 days`)}
${definition('Last pulled', value.lastPulled ?? 'never')}
${definition('Last checked', value.lastChecked ?? 'never')}
${definition('Last seen', value.lastSeen ? `${value.lastSeen} (pulled or checked)` : 'never')}`;
}

export function tagPage(view: TagDetailView, state: CatalogState, now: number, account?: Account): string {
  const name = view.repository.name;
  const { tag, manifest } = view;
  const platforms = manifest.kind === 'index' ? manifest.children.filter((child) => !child.attestation) : [];
  const attestations = manifest.kind === 'index' ? manifest.children.filter((child) => child.attestation) : [];
  const imagesByDigest = new Map(manifest.kind === 'index' ? manifest.images.map((image) => [image.digest, image]) : []);
  const body = html`<section class="registry-tag">
<div class="headline"><h1>${name}:${tag.tag}</h1></div>
${registryBanner(state)}
<dl class="facts">
  ${definition('Digest', html`<code>${manifest.digest}</code>`)}
  ${definition('Kind', manifest.kind === 'index' ? `index of ${platforms.length} platform${platforms.length === 1 ? '' : 's'}` : 'single-platform image')}
  ${definition('Media type', html`<code>${manifest.mediaType}</code>`)}
  ${definition('Size', manifest.kind === 'index' ? `${formatBytes(manifest.size)} (every platform's distinct blobs)` : `${formatBytes(manifest.size)} (config and layers, compressed)`)}
  ${definition('Created', timeTag(tag.created, 'unknown'))}
  ${usageFacts(tag.usage, view.usageAvailable)}
  ${definition('Pull', copyCommand(tag.pullCommand))}
</dl>
${
  manifest.kind === 'index'
    ? html`<h2>Platforms</h2><div class="table-wrap"><table class="platforms"><thead><tr><th>Platform</th><th>Digest</th><th class="num">Size</th><th>Created</th></tr></thead><tbody>
${platforms.map((child) => {
  const image = imagesByDigest.get(child.digest);
  return html`<tr><td>${image ? html`<a href="${`#image-${shortDigest(child.digest)}`}">${platformLabel(image.config ?? child)}</a>` : platformLabel(child)}</td><td><code title="${child.digest}">${shortDigest(child.digest)}</code></td><td class="num">${image ? formatBytes(image.size) : html`<span class="muted">not in the registry</span>`}</td><td>${timeTag(image?.config?.created, 'unknown')}</td></tr>`;
})}
</tbody></table></div>
${attestations.length > 0 ? html`<p class="muted small">${attestations.length} attestation manifest${attestations.length === 1 ? '' : 's'} (provenance, SBOM) not listed as platforms.</p>` : ''}
${Object.keys(manifest.annotations).length > 0 ? html`<h3>Index annotations</h3><div class="table-wrap"><table class="kv"><tbody>${Object.entries(manifest.annotations).map(([key, value]) => html`<tr><th scope="row"><code>${key}</code></th><td>${value}</td></tr>`)}</tbody></table></div>` : ''}
<details class="raw"><summary>Raw index JSON</summary><pre><code>${prettyJson(manifest.raw)}</code></pre></details>
${manifest.images.map((image) => imageSection(image, image.config ? platformLabel(image.config) : shortDigest(image.digest)))}`
    : imageSection(manifest as ImageDetails, 'Image')
}
</section>`;
  return page({
    title: `${name}:${tag.tag}`,
    crumbs: [...pathCrumbs(name, { label: name.split('/').at(-1)!, href: repositoryHref(name) }), { label: tag.tag }],
    body,
    styles: STYLES,
    scripts: SCRIPTS,
    footer: freshness(state, now, view.repository),
    account,
  });
}

