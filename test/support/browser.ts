// Debian's headless Chromium driven by playwright-core, with the flags this closed network needs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './processes.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here (ignored by git), one folder per suite. */
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-output', 'screenshots');

export interface TestBrowser {
  browser: Browser;
  /** A new page that fails the test on any console error or uncaught page error (a CSP violation is one). */
  newPage(): Promise<{ page: Page; problems: string[] }>;
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(suite: string): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    // playwright gives the browser a new empty profile of its own (it refuses --user-data-dir here).
  });
  const dir = join(SCREENSHOT_DIR, suite);
  mkdirSync(dir, { recursive: true });
  return {
    browser,
    async newPage() {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      return { page, problems };
    },
    async screenshot(page, name) {
      const path = join(dir, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await browser.close();
    },
  };
}
