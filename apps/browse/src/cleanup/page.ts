// The /cleanup page: the plan, whether the registry credential may delete, the apply form, the audit, and GC advice.
import type { CleanupPlan } from '@staticreg/cleanup';
import type { CleanupAuditRow } from '@staticreg/db';
import type { DeleteRights } from '@staticreg/registry';
import { html, type SafeHtml } from '../html.js';
import { formatBytes, formatTime, shortDigest } from '../registry/format.js';

export interface CleanupPageState {
  /** Why there is no plan to show (not configured, no database, a bad policy file, the catalog unreadable). */
  unavailable?: string;
  plan?: CleanupPlan;
  fingerprint?: string;
  /** Asked of the registry on the first planned repository; undefined when there is nothing to delete. */
  rights?: DeleteRights | { unknown: string };
  audit: CleanupAuditRow[];
  /** When an apply started by this browse is still running: when it started. */
  runningSince?: string;
  csrfToken?: string;
  /** Why this viewer sees the plan read-only (no sign-in, and apply without it not allowed): shown instead of the form. */
  applyRefusal?: string;
  /** A one-line notice after a POST (apply started, or why it was not). */
  notice?: { text: string; good: boolean };
}

function rightsBanner(rights: CleanupPageState['rights']): SafeHtml | string {
  if (!rights) return '';
  if ('unknown' in rights) return html`<p class="banner bad" id="delete-rights">Could not ask the registry whether it allows deletes: ${rights.unknown}</p>`;
  if (rights.canDelete) return html`<p class="banner good" id="delete-rights">The registry credential can delete manifests (checked with a DELETE of a digest that cannot exist).</p>`;
  return rights.refusal === 'deletes-disabled'
    ? html`<p class="banner bad" id="delete-rights">The registry does not allow deletes: it answered ${rights.answer}. Set <code>storage.delete.enabled: true</code> in its configuration.</p>`
    : html`<p class="banner bad" id="delete-rights">The registry credential may not delete: the registry answered ${rights.answer}. It needs the <code>delete</code> action on the repositories.</p>`;
}

function planTable(plan: CleanupPlan): SafeHtml {
  if (plan.deletions.length === 0) return html`<p class="note" id="plan-empty">Nothing to delete: the policy keeps every image.</p>`;
  return html`<div class="table-wrap"><table id="plan">
<thead><tr><th>Repository</th><th>Tags</th><th>Digest</th><th>Rule</th><th>Last pulled</th><th>Last checked</th><th>Created</th><th>Frees <a href="#frees-note" aria-label="how Frees is counted">*</a></th><th>Why</th></tr></thead>
<tbody>${plan.deletions.map(
    (deletion) => html`<tr data-digest="${deletion.digest}">
<td>${deletion.repository}</td><td>${deletion.tags.length > 0 ? deletion.tags.join(', ') : html`<span class="muted">untagged</span>`}</td>
<td><code title="${deletion.digest}">${shortDigest(deletion.digest)}</code></td><td>${deletion.rule}</td>
<td>${deletion.lastPulled ?? html`<span class="muted">never</span>`}</td><td>${deletion.lastChecked ?? html`<span class="muted">never</span>`}</td>
<td>${deletion.created ? formatTime(deletion.created) : html`<span class="muted">unknown</span>`}</td><td>${formatBytes(deletion.freesBytes)}</td><td>${deletion.reason}</td></tr>`,
  )}</tbody></table></div>
${FREES_NOTE}`;
}

// An index's figure counts its platforms' blobs, but deleting the index leaves those manifests (and so their layers).
const FREES_NOTE = html`<p class="note" id="frees-note">* Frees: the blobs no kept image shares, reclaimed once the registry's
<code>garbage-collect</code> runs (below). For an index this counts its platforms' blobs too, which stay on disk unless
<code>garbage-collect</code> runs with <code>--delete-untagged</code>.</p>`;

function applyForm(state: CleanupPageState): SafeHtml | string {
  const plan = state.plan;
  if (!plan || plan.deletions.length === 0) return '';
  if (state.applyRefusal) return html`<p class="note" id="apply-refused">${state.applyRefusal}</p>`;
  if (state.runningSince) return html`<p class="note" id="apply-running">An apply started at ${formatTime(state.runningSince)} is running; the audit below fills as it goes.</p>`;
  const count = plan.deletions.length;
  return html`<form method="post" action="/cleanup/apply" id="apply-form">
${state.csrfToken ? html`<input type="hidden" name="csrf" value="${state.csrfToken}">` : ''}
<input type="hidden" name="plannedAt" value="${plan.plannedAt}">
<input type="hidden" name="plan" value="${state.fingerprint ?? ''}">
<p>Apply deletes these ${count} manifest${count === 1 ? '' : 's'} by digest, one at a time. Before each, it reads use again
(a pull or check since this page was shown keeps the image) and the repository's tags (a digest another tag now points to is kept).
Every action goes to the audit below.</p>
<label><input type="checkbox" name="confirm" value="yes" required> Delete ${count} manifest${count === 1 ? '' : 's'} from the registry</label>
<button type="submit">Apply the plan</button>
</form>`;
}

function auditTable(audit: CleanupAuditRow[]): SafeHtml {
  if (audit.length === 0) return html`<p class="note" id="audit-empty">No cleanup has been applied yet.</p>`;
  return html`<div class="table-wrap"><table id="audit">
<thead><tr><th>When</th><th>Who</th><th>Repository</th><th>Digest</th><th>Tags</th><th>Rule</th><th>Action</th><th>Result</th><th>Detail</th></tr></thead>
<tbody>${audit.map(
    (row) => html`<tr class="result-${row.result}"><td>${formatTime(row.at.toISOString())}</td><td>${row.actor}</td><td>${row.repository}</td>
<td><code title="${row.digest}">${shortDigest(row.digest)}</code></td><td>${row.tags.join(', ')}</td><td>${row.rule}</td><td>${row.action}</td><td>${row.result}</td><td>${row.detail}</td></tr>`,
  )}</tbody></table></div>`;
}

const RECLAIM = html`<h2>Reclaim the space</h2>
<p id="reclaim">Deleting a manifest removes it from the registry's API at once; its layers stay on disk until the registry's
offline garbage collector runs. With the registry stopped or read-only (<code>storage.maintenance.readonly.enabled: true</code>), run
<code>registry garbage-collect /etc/docker/registry/config.yml</code> (Debian: <code>docker-registry garbage-collect ...</code>),
first with <code>--dry-run</code>. See docs/cleanup.md.</p>`;

export function cleanupPageBody(state: CleanupPageState): SafeHtml {
  const plan = state.plan;
  return html`<section class="cleanup">
<h1>Cleanup by use</h1>
${state.notice ? html`<p class="banner ${state.notice.good ? 'good' : 'bad'}" id="notice" role="status">${state.notice.text}</p>` : ''}
${state.unavailable ? html`<p class="note" id="cleanup-unavailable">${state.unavailable}</p>` : ''}
${rightsBanner(state.rights)}
${plan
  ? html`<h2>Plan</h2>
<p id="plan-summary">Policy <code>${plan.policyFile}</code>, planned at ${formatTime(plan.plannedAt)}: ${plan.deletions.length} manifest${plan.deletions.length === 1 ? '' : 's'} to delete, ${plan.kept} kept; frees ${formatBytes(plan.freesBytes)} after garbage collection (an index's platforms only with <code>--delete-untagged</code>, see <a href="#frees-note">Frees</a>).</p>
${plan.warnings.length > 0 ? html`<ul class="banner bad" id="plan-warnings">${plan.warnings.map((warning) => html`<li>${warning}</li>`)}</ul>` : ''}
${planTable(plan)}
${applyForm(state)}`
  : ''}
${RECLAIM}
<h2>Audit</h2>
${auditTable(state.audit)}
</section>`;
}
