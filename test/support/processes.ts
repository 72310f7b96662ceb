// Starts the real app processes (from source, through tsx) the way `make receiver` / `make worker` do.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type AppName = 'receiver' | 'worker' | 'browse';

export interface AppProcess {
  child: ChildProcess;
  /** Everything the process wrote, stdout and stderr (pino JSON lines); only the last part if keepOutputChars is set. */
  output(): string;
  /** Characters the process wrote in all, kept or not. */
  outputChars(): number;
  /** The parsed pino lines with this message (whole lines only: the process may be mid-write). */
  logLines(msg: string): Array<Record<string, unknown>>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface StartOptions {
  /** Keep only about the last this many characters of output: a long run that logs every failure would outgrow a string. */
  keepOutputChars?: number;
}

export function startApp(app: AppName, env: Record<string, string>, entry = 'main.ts', options: StartOptions = {}): AppProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=staticreg-source', `apps/${app}/src/${entry}`],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', STATICREG_BIND: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  let outputChars = 0;
  const keep = options.keepOutputChars;
  const append = (chunk: Buffer): void => {
    const text = chunk.toString();
    outputChars += text.length;
    output += text;
    // Cut at a line start so logLines still sees whole lines.
    if (keep !== undefined && output.length > 2 * keep) {
      const lineStart = output.indexOf('\n', output.length - keep);
      output = output.slice(lineStart < 0 ? output.length - keep : lineStart + 1);
    }
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => output,
    outputChars: () => outputChars,
    logLines: (msg) =>
      output
        .split('\n')
        .slice(0, -1)
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg === msg),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Resolves once GET url answers 200, or fails after timeoutMs with the process output. */
export async function waitForHttp(url: string, app: AppProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (app.child.exitCode !== null) throw new Error(`process exited early:\n${app.output()}`);
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${app.output()}`);
}
