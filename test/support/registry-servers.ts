// Docker-registry 2.8.2 set up the ways operators run it: htpasswd or token auth, TLS from a test CA, notifications;
// plus the small token service a token-auth registry trusts, signing JWTs with a key made for the test.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { freePort } from './processes.js';
import { REGISTRY_BIN } from './registry.js';

const run = promisify(execFile);

export interface TlsMaterial {
  caCertFile: string;
  caPem: string;
  certFile: string;
  keyFile: string;
}

/** A CA, and a server certificate for 127.0.0.1 and localhost signed by it (openssl, valid for a day). */
export async function makeTlsMaterial(dir: string): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true });
  const path = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', path('ca.key'), '-out', path('ca.crt'), '-days', '1', '-subj', '/CN=staticreg test CA']);
  await run('openssl', ['req', ...ec, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(path('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run('openssl', [
    'x509', '-req', '-in', path('server.csr'), '-CA', path('ca.crt'), '-CAkey', path('ca.key'), '-CAcreateserial',
    '-out', path('server.crt'), '-days', '1', '-extfile', path('server.ext'),
  ]);
  return { caCertFile: path('ca.crt'), caPem: await readFile(path('ca.crt'), 'utf8'), certFile: path('server.crt'), keyFile: path('server.key') };
}

/** htpasswd lines (bcrypt, as the registry requires) made by Debian's htpasswd. */
export async function htpasswdFile(file: string, users: Record<string, string>): Promise<void> {
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) {
    const { stdout } = await run('htpasswd', ['-Bbn', user, password]);
    lines.push(stdout.trim());
  }
  await writeFile(file, `${lines.join('\n')}\n`);
}

export type RegistryAuth =
  | { kind: 'htpasswd'; users: Record<string, string> }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export interface TestRegistryOptions {
  dir: string;
  auth?: RegistryAuth;
  tls?: TlsMaterial;
  notifications?: { url: string; token?: string };
  /** storage.delete.enabled (default true); false answers DELETE with 405 UNSUPPORTED. */
  deletes?: boolean;
}

export interface TestRegistry {
  /** host:port */
  host: string;
  baseUrl: string;
  storageDir: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function authSection(auth: RegistryAuth | undefined, dir: string): string {
  if (!auth) return '';
  if (auth.kind === 'htpasswd') {
    return `auth:\n  htpasswd:\n    realm: staticreg-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  return `auth:\n  token:\n    realm: ${auth.realm}\n    service: ${auth.service}\n    issuer: ${auth.issuer}\n    rootcertbundle: ${auth.rootCertBundle}\n`;
}

/** Starts docker-registry on a free port and waits until /v2/ answers (200, or 401 behind auth). */
export async function startTestRegistry(options: TestRegistryOptions): Promise<TestRegistry> {
  await mkdir(options.dir, { recursive: true });
  if (options.auth?.kind === 'htpasswd') await htpasswdFile(join(options.dir, 'htpasswd'), options.auth.users);
  const port = await freePort();
  const storageDir = join(options.dir, 'storage');
  const notifications = options.notifications
    ? `notifications:\n  endpoints:\n    - name: staticreg\n      url: ${options.notifications.url}\n` +
      (options.notifications.token ? `      headers:\n        Authorization: [Bearer ${options.notifications.token}]\n` : '') +
      '      timeout: 2s\n      threshold: 3\n      backoff: 1s\n'
    : '';
  const tls = options.tls ? `  tls:\n    certificate: ${options.tls.certFile}\n    key: ${options.tls.keyFile}\n` : '';
  const config =
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storageDir}\n  delete:\n    enabled: ${options.deletes ?? true}\n` +
    `http:\n  addr: 127.0.0.1:${port}\n${tls}${authSection(options.auth, options.dir)}${notifications}`;
  const configFile = join(options.dir, 'config.yml');
  await writeFile(configFile, config);
  const child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const host = `127.0.0.1:${port}`;
  const baseUrl = `${options.tls ? 'https' : 'http'}://${host}`;
  const registry: TestRegistry = {
    host,
    baseUrl,
    storageDir,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  const probe = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited early:\n${output}`);
      try {
        const response = await request(`${baseUrl}/v2/`, { dispatcher: probe });
        await response.body.dump();
        if (response.statusCode === 200 || response.statusCode === 401) return registry;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await registry.stop();
        throw new Error(`docker-registry did not answer /v2/:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await probe.close();
  }
}

export interface TokenServiceUser {
  password: string;
  /** May push (and delete); every user may pull and list the catalog. */
  push?: boolean;
  /** Repository patterns this user may pull (`team-a/*`, `*`); every repository when absent. */
  pull?: string[];
}

/** `team-a/*` matches every repository under team-a/, `*` every repository, anything else itself. */
function matchesPattern(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('/*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export interface TokenService {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  /** Every token request: who asked (undefined: anonymous) and the scopes asked for. */
  requests: Array<{ user: string | undefined; scopes: string[] }>;
  stop(): Promise<void>;
}

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

function signJwt(key: KeyObject, certDer: Buffer, claims: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] }));
  const payload = base64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${base64url(signature)}`;
}

/**
 * The token service of the distribution token spec: GET /token?service=&scope=, Basic credentials or anonymous,
 * answering a short-lived ES256 JWT whose x5c names a self-signed certificate the registry trusts.
 * Anonymous callers get no access at all; known users get pull (and push when allowed) on what they ask.
 */
export async function startTokenService(dir: string, users: Record<string, TokenServiceUser>, lifetimeSeconds = 300): Promise<TokenService> {
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=staticreg test token signer']);
  const key = createPrivateKey(await readFile(keyFile));
  const certPem = await readFile(certFile, 'utf8');
  const certDer = Buffer.from(certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const port = await freePort();
  const service = 'staticreg-test-registry';
  const issuer = 'staticreg-test-issuer';
  const requests: TokenService['requests'] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    let user: string | undefined;
    const authorization = req.headers.authorization ?? '';
    if (authorization.startsWith('Basic ')) {
      const [name, ...rest] = Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':');
      if (!name || users[name]?.password !== rest.join(':')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
        return;
      }
      user = name;
    }
    const scopes = url.searchParams.getAll('scope');
    requests.push({ user, scopes });
    const access = user
      ? scopes.flatMap((scope) => {
          const [type, ...middle] = scope.split(':');
          const actions = middle.pop()?.split(',') ?? [];
          const account = users[user!]!;
          const name = middle.join(':');
          const mayPull = type !== 'repository' || account.pull === undefined || account.pull.some((pattern) => matchesPattern(pattern, name));
          const allowed = actions.filter((action) => ((action === 'pull' || action === '*') && mayPull) || (account.push && (action === 'push' || action === 'delete')));
          return type && allowed.length > 0 ? [{ type, name: middle.join(':'), actions: allowed }] : [];
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(key, certDer, {
      iss: issuer,
      sub: user ?? '',
      aud: url.searchParams.get('service') ?? service,
      exp: now + lifetimeSeconds,
      nbf: now - 5,
      iat: now,
      jti: randomUUID(),
      access,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ token, access_token: token, expires_in: lifetimeSeconds, issued_at: new Date(now * 1000).toISOString() }),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: certFile,
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
