// Loads the real registry notification bodies captured from Docker Distribution 2.8.2.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/distribution-2.8.2/', import.meta.url));

export interface FixtureFile {
  scenario: string;
  file: string;
  /** The body exactly as the registry POSTed it. */
  raw: string;
  body: { events: Array<Record<string, any>> };
}

export function scenarios(): string[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

export function loadScenario(scenario: string): FixtureFile[] {
  return readdirSync(`${FIXTURES_DIR}${scenario}`)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const raw = readFileSync(`${FIXTURES_DIR}${scenario}/${file}`, 'utf8');
      return { scenario, file, raw, body: JSON.parse(raw) };
    });
}
