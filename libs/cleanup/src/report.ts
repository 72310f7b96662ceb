// The plan as people and programs read it: a table with a summary line, CSV (formula-safe) and JSON.
import { toCsv, type CsvColumn } from '@staticreg/csv';
import type { CleanupPlan, PlannedDeletion } from './plan.js';

const bytes = (value: number): string => `${value.toLocaleString('en-US')} B`;
const createdDay = (created: string | null): string => created?.slice(0, 10) ?? '-';

const TABLE_COLUMNS: ReadonlyArray<[string, (deletion: PlannedDeletion) => string]> = [
  ['REPOSITORY', (d) => d.repository],
  // 12 hex digits, as docker shows image ids; JSON and CSV carry the whole digest.
  ['DIGEST', (d) => d.digest.replace(/^(\w+:[0-9a-f]{12}).*$/, '$1')],
  ['TAGS', (d) => (d.tags.length > 0 ? d.tags.join(',') : '(untagged)')],
  ['RULE', (d) => d.rule],
  ['LAST PULLED', (d) => d.lastPulled ?? '-'],
  ['LAST CHECKED', (d) => d.lastChecked ?? '-'],
  ['CREATED', (d) => createdDay(d.created)],
  ['FREES', (d) => bytes(d.freesBytes)],
  // Last, so a long reason runs on without pushing the other columns.
  ['REASON', (d) => d.reason],
];

const CSV_COLUMNS: ReadonlyArray<CsvColumn<PlannedDeletion>> = [
  { header: 'repository', value: (d) => d.repository },
  { header: 'digest', value: (d) => d.digest },
  { header: 'tags', value: (d) => d.tags.join(' ') },
  { header: 'rule', value: (d) => d.rule },
  { header: 'reason', value: (d) => d.reason },
  { header: 'last_pulled', value: (d) => d.lastPulled },
  { header: 'last_checked', value: (d) => d.lastChecked },
  { header: 'created', value: (d) => d.created },
  { header: 'frees_bytes', value: (d) => d.freesBytes },
];

/** One line: how much goes, how much stays, the space it frees, and that nothing was deleted. */
export function planSummary(plan: CleanupPlan): string {
  const tags = plan.deletions.reduce((sum, deletion) => sum + deletion.tags.length, 0);
  const repositories = new Set(plan.deletions.map((deletion) => deletion.repository)).size;
  const manifests = `${plan.deletions.length} manifest${plan.deletions.length === 1 ? '' : 's'}`;
  return (
    `Plan (${plan.policyFile}, ${plan.plannedAt}): ${manifests} to delete (${tags} tag${tags === 1 ? '' : 's'}) in ${repositories} ` +
    `repositor${repositories === 1 ? 'y' : 'ies'}, ${plan.kept} kept; frees ${bytes(plan.freesBytes)} after the registry's ` +
    'garbage-collect. Nothing was deleted.'
  );
}

export function planTable(plan: CleanupPlan): string {
  const cells = plan.deletions.map((deletion) => TABLE_COLUMNS.map(([, value]) => value(deletion).replace(/\s+/g, ' ')));
  const widths = TABLE_COLUMNS.map(([header], i) => Math.max(header.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  const rows = plan.deletions.length > 0 ? [line(TABLE_COLUMNS.map(([header]) => header)), ...cells.map(line)] : [];
  return [...rows, planSummary(plan), ...plan.warnings.map((warning) => `Warning: ${warning}`)].join('\n') + '\n';
}

export function planCsv(plan: CleanupPlan): string {
  return toCsv(CSV_COLUMNS, plan.deletions);
}

export function planJson(plan: CleanupPlan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
