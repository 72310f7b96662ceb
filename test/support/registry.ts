// Runs Debian's real Docker Distribution registry (2.8.2) with webhook notifications, and drives skopeo against it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './services.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const SKOPEO_BIN = '/usr/bin/skopeo';

const run = promisify(execFile);

export interface RegistryOptions {
  /** Holds the config file and the filesystem storage. */
  dir: string;
  port: number;
  /** The debug server's port: /debug/vars shows each endpoint's delivery counters. */
  debugPort: number;
  notificationUrl: string;
  /** Sent as `Authorization: Bearer <token>` with every notification. */
  token: string;
}

/** The registry's own counters for one notification endpoint (expvar, registry 2.8). */
export interface EndpointMetrics {
  Pending: number;
  Events: number;
  Successes: number;
  Failures: number;
  Errors: number;
  Statuses: Record<string, number>;
}

export interface Registry {
  /** host:port, as used in docker:// references. */
  host: string;
  baseUrl: string;
  child: ChildProcess;
  output(): string;
  notificationMetrics(): Promise<EndpointMetrics>;
  stop(): Promise<number | null>;
}

/** The documented notification setup, with short timeouts so a failed delivery is retried within the test. */
function registryConfig(options: RegistryOptions): string {
  return `version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(options.dir, 'storage')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${options.port}
  debug:
    addr: 127.0.0.1:${options.debugPort}
notifications:
  endpoints:
    - name: staticreg
      url: ${options.notificationUrl}
      headers:
        Authorization: [Bearer ${options.token}]
      timeout: 2s
      threshold: 3
      backoff: 1s
`;
}

export async function startRegistry(options: RegistryOptions): Promise<Registry> {
  const configFile = join(options.dir, 'config.yml');
  await mkdir(options.dir, { recursive: true });
  await writeFile(configFile, registryConfig(options));
  const child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const host = `127.0.0.1:${options.port}`;
  const registry: Registry = {
    host,
    baseUrl: `http://${host}`,
    child,
    output: () => output,
    async notificationMetrics() {
      const response = await fetch(`http://127.0.0.1:${options.debugPort}/debug/vars`);
      const vars = (await response.json()) as { registry: { notifications: { endpoints: Array<{ Metrics: EndpointMetrics }> } } };
      const endpoint = vars.registry.notifications.endpoints[0];
      if (!endpoint) throw new Error('the registry reports no notification endpoint');
      return endpoint.Metrics;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited early:\n${output}`);
    try {
      if ((await fetch(`${registry.baseUrl}/v2/`)).status === 200) return registry;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await registry.stop();
      throw new Error(`docker-registry did not answer GET /v2/ with 200:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Resolves once the registry has delivered every event it queued. Pending counts events queued or in flight
 * (it drops only once the retrying sink succeeded); Successes equal to Events rules out a dropped event.
 * Two such readings in a row, because an event is queued a moment after its client request is answered.
 */
export async function registryDelivered(registry: Registry): Promise<EndpointMetrics> {
  let last: EndpointMetrics | undefined;
  let settled: EndpointMetrics | undefined;
  try {
    await eventually(async () => {
      const metrics = await registry.notificationMetrics();
      const done = metrics.Pending === 0 && metrics.Successes === metrics.Events;
      if (done && last?.Events === metrics.Events) settled = metrics;
      else await new Promise((resolve) => setTimeout(resolve, 150));
      last = metrics;
      return settled !== undefined;
    });
  } catch {
    throw new Error(`the registry did not deliver every notification: ${JSON.stringify(last)}\n${registry.output().slice(-3000)}`);
  }
  return settled!;
}

/**
 * Runs skopeo with the accept-anything signature policy (these images are unsigned and local) and
 * returns stdout; a failure carries skopeo's stderr.
 */
export async function skopeo(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(SKOPEO_BIN, ['--insecure-policy', ...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${failed.stderr ?? failed.message}`);
  }
}
