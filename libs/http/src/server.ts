// Health endpoints and a listen/shutdown pair that every app uses the same way.
import { createServer, type Server } from 'node:http';
import express, { type Express } from 'express';
import type { Logger } from 'pino';

/** A dependency probe by name (e.g. redis: () => redis.ping()); undefined means "not there yet". */
export type ReadinessProbes = Record<string, (() => Promise<unknown>) | undefined>;

/** Runs every probe with a 1 s timeout: 'ok', or what went wrong. */
export async function runProbes(probes: ReadinessProbes): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]): Promise<[string, string]> => {
      if (!probe) return [name, 'not ready'];
      try {
        await withTimeout(probe(), 1000, `${name} probe`);
        return [name, 'ok'];
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)];
      }
    }),
  );
  return Object.fromEntries(entries);
}

/** Liveness is "the process answers"; readiness is "every dependency answers", checked on each call. */
export function addHealthRoutes(app: Express, probes: () => ReadinessProbes, isShuttingDown: () => boolean): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (isShuttingDown()) {
      res.status(503).json({ status: 'shutting-down' });
      return;
    }
    const checks = await runProbes(probes());
    const ok = Object.values(checks).every((value) => value === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });
}

/** Resolves within `ms` with the promise's outcome, or rejects with a timeout. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function listen(app: Express | ReturnType<typeof express>, port: number, host: string): Promise<Server> {
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stops accepting connections and waits for requests in flight (Node 19+ also closes idle keep-alives). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Runs `shutdown` once on SIGTERM or SIGINT, then exits; a second signal or the deadline forces the exit.
 */
export function onShutdownSignal(log: Logger, shutdown: () => Promise<void>, deadlineMs = 15_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'Second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'Shutting down');
    const deadline = setTimeout(() => {
      log.error({ deadlineMs }, 'Shutdown deadline passed, exiting');
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    shutdown().then(
      () => {
        log.info('Stopped');
        log.flush?.();
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Runs an app's main; a configuration error prints its one line and exits 2, anything else exits 1. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof Error && error.name === 'ConfigError') {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${name} failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
