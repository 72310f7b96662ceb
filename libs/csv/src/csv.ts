// CSV (RFC 4180) for reports and downloads, with spreadsheet formula injection neutralised.

export interface CsvColumn<T> {
  header: string;
  value: (row: T) => string | number | null;
}

/** Cells a spreadsheet would read as a formula (or a DDE call) start with one of these. */
const FORMULA_START = /^[=+\-@\t\r|]/;

/**
 * A text cell that could run as a formula gets a leading apostrophe (OWASP's advice), then every cell with a
 * comma, quote or line break is quoted. Numbers are written as they are.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv<T>(columns: ReadonlyArray<CsvColumn<T>>, rows: readonly T[]): string {
  const lines = [columns.map((column) => csvCell(column.header)).join(',')];
  for (const row of rows) lines.push(columns.map((column) => csvCell(column.value(row))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
