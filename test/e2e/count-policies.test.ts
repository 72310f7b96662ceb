// End to end: each client's real manifest requests against docker-registry 2.8.2, counted by a real worker under both count policies.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { utcDayOf } from '@staticreg/events';
import { createPullQueue, type PullJobData } from '@staticreg/queue';
import { buildImage, buildIndex, writeOciLayout, type Platform } from '../support/oci-layout.js';
import { freePort, REPO_ROOT, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { queueDrained } from '../support/pull-queue.js';
import { registryDelivered, startRegistry, skopeo, type Registry } from '../support/registry.js';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';

type Policy = 'sessions' | 'events';

const TAG = '1.0';
const WINDOW_SECONDS = 10;
const NOT_SPECIFIED = 'not-specified';

// The User-Agents the clients send, as public registry logs show them (containerd and podman send no architecture).
const DOCKER_ARM64_UA =
  'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/arm64 ' +
  'UpstreamClient(Docker-Client/24.0.7 \\(linux\\))';
const CONTAINERD_UA = 'containerd/v1.7.11';
const PODMAN_UA = 'containers/5.34.2 (github.com/containers/image)';
const CRANE_UA = 'crane/v0.19.0 go-containerregistry/v0.19.0';
// The client that shows the worker each image before the scenarios (see warmUp).
const WARM_UP_UA = 'e2e-warm-up/1.0';

const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_V1 = 'application/vnd.docker.distribution.manifest.v1+json';
const DOCKER_V1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const INDEX_TYPES = new Set([DOCKER_LIST, OCI_INDEX]);

// What each client asks for. docker 24's distribution client lists every type it can use.
const DOCKER_ACCEPT = [DOCKER_V2, DOCKER_LIST, OCI_INDEX, OCI_MANIFEST].join(', ');
// containerd's resolver (HEAD) names the four types and */*; its fetcher (GET by digest) the expected type and */*.
const CONTAINERD_RESOLVE_ACCEPT = [DOCKER_V2, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX, '*/*'].join(', ');
const containerdFetchAccept = (mediaType: string): string => `${mediaType}, */*`;
// containers/image (podman, skopeo): DefaultRequestedManifestMIMETypes.
const PODMAN_ACCEPT = [OCI_MANIFEST, DOCKER_V2, DOCKER_V1_SIGNED, DOCKER_V1, DOCKER_LIST, OCI_INDEX].join(', ');
// go-containerregistry: allManifestMediaTypes for Get and Head; a child of an index is asked for with its own type only.
const CRANE_ACCEPT = [DOCKER_V1, DOCKER_V1_SIGNED, DOCKER_V2, OCI_MANIFEST, DOCKER_LIST, OCI_INDEX].join(',');

const AMD64: Platform = { architecture: 'amd64', os: 'linux' };
const ARM64: Platform = { architecture: 'arm64', os: 'linux', variant: 'v8' };
const ARMV7: Platform = { architecture: 'arm', os: 'linux', variant: 'v7' };
// skopeo picks the platform of the machine it runs on; fixed here so the expected rows do not depend on the host.
const SKOPEO_AMD64 = ['--override-os=linux', '--override-arch=amd64'];

/** A row of container_pull_metrics or container_pull_checks, digest as a label of the images below. */
interface Row {
  tag: string;
  image: string;
  architecture: string;
  count: number;
}

interface Observed {
  /** The manifest requests the registry reported for the scenario's repository, in time order (sessions run only). */
  requests: string[];
  pulls: Row[];
  checks: Row[];
}

interface Scenario {
  /** Also the repository: e2e/<name>, so no two scenarios are ever one client. */
  name: string;
  title: string;
  /** Which pushed artifact the repository holds. */
  image: 'index' | 'list' | 'single' | 'noarch';
  /** What the registry reports, as `METHOD :tag (image)` or `METHOD @image`. */
  requests: string[];
  sessions: { pulls: Row[]; checks: Row[] };
  events: Row[];
}

const row = (tag: string, image: string, architecture: string, count = 1): Row => ({ tag, image, architecture, count });

/**
 * The counting scenarios and the rows each must produce. Images: `index` is an OCI index of amd64, arm64/v8 and
 * arm/v7 images (`index-amd64`, …), `list` the same pushed as a docker manifest list, `single` an amd64 image,
 * `noarch` an image whose config names no architecture.
 */
const SCENARIOS: Scenario[] = [
  {
    name: 'docker-pull',
    title: 'docker pull, multi-arch image, arm64 host',
    image: 'index',
    requests: ['HEAD :1.0 (index)', 'GET @index', 'GET @index-arm64'],
    sessions: { pulls: [row(TAG, 'index', 'arm64')], checks: [] },
    events: [row(TAG, 'index', 'arm64')],
  },
  {
    name: 'docker-up-to-date',
    title: 'docker pull, image already up to date',
    image: 'index',
    requests: ['HEAD :1.0 (index)'],
    sessions: { pulls: [], checks: [row(TAG, 'index', NOT_SPECIFIED)] },
    events: [row(TAG, 'index', 'arm64')],
  },
  {
    name: 'docker-twice',
    title: `docker pull, then again more than ${WINDOW_SECONDS} s later (up to date)`,
    image: 'index',
    requests: ['HEAD :1.0 (index)', 'GET @index', 'GET @index-arm64', 'HEAD :1.0 (index)'],
    sessions: { pulls: [row(TAG, 'index', 'arm64')], checks: [row(TAG, 'index', NOT_SPECIFIED)] },
    events: [row(TAG, 'index', 'arm64', 2)],
  },
  {
    name: 'docker-noarch',
    title: 'docker pull, arm64 host, image whose config names no architecture',
    image: 'noarch',
    requests: ['HEAD :1.0 (noarch)', 'GET @noarch'],
    sessions: { pulls: [row(TAG, 'noarch', 'arm64')], checks: [] },
    events: [row(TAG, 'noarch', 'arm64')],
  },
  {
    name: 'containerd',
    title: 'containerd (ctr pull), amd64 host',
    image: 'index',
    requests: ['HEAD :1.0 (index)', 'GET @index', 'GET @index-amd64'],
    sessions: { pulls: [row(TAG, 'index', 'amd64')], checks: [] },
    events: [row(TAG, 'index', NOT_SPECIFIED)],
  },
  {
    name: 'kubelet-pinned',
    title: 'kubelet through containerd, digest pinned, arm/v7 node',
    image: 'index',
    requests: ['HEAD @index', 'GET @index', 'GET @index-armv7'],
    sessions: { pulls: [row('', 'index', 'arm/v7')], checks: [] },
    events: [],
  },
  {
    name: 'podman',
    title: 'podman pull, docker manifest list, amd64 host',
    image: 'list',
    requests: ['GET :1.0 (list)', 'GET @list-amd64'],
    sessions: { pulls: [row(TAG, 'list', 'amd64')], checks: [] },
    events: [row(TAG, 'list', NOT_SPECIFIED)],
  },
  {
    name: 'skopeo-copy',
    title: 'skopeo copy by tag, multi-arch image (real skopeo)',
    image: 'index',
    requests: ['GET :1.0 (index)', 'GET @index-amd64'],
    sessions: { pulls: [row(TAG, 'index', 'amd64')], checks: [] },
    events: [row(TAG, 'index', NOT_SPECIFIED)],
  },
  {
    name: 'skopeo-copy-single',
    title: 'skopeo copy by tag, single-arch image (real skopeo)',
    image: 'single',
    requests: ['GET :1.0 (single)'],
    sessions: { pulls: [row(TAG, 'single', 'amd64')], checks: [] },
    events: [row(TAG, 'single', NOT_SPECIFIED)],
  },
  {
    name: 'skopeo-copy-all',
    title: 'skopeo copy --all (real skopeo)',
    image: 'index',
    requests: ['GET :1.0 (index)', 'GET @index-amd64', 'GET @index-arm64', 'GET @index-armv7'],
    sessions: { pulls: [row(TAG, 'index', 'amd64'), row(TAG, 'index', 'arm/v7'), row(TAG, 'index', 'arm64')], checks: [] },
    events: [row(TAG, 'index', NOT_SPECIFIED)],
  },
  {
    name: 'skopeo-inspect',
    title: 'skopeo inspect, multi-arch image (real skopeo)',
    image: 'index',
    requests: ['GET :1.0 (index)', 'GET @index-amd64'],
    sessions: { pulls: [row(TAG, 'index', 'amd64')], checks: [] },
    events: [row(TAG, 'index', NOT_SPECIFIED)],
  },
  {
    name: 'skopeo-inspect-raw',
    title: 'skopeo inspect --raw (real skopeo)',
    image: 'index',
    requests: ['GET :1.0 (index)'],
    sessions: { pulls: [row(TAG, 'index', NOT_SPECIFIED)], checks: [] },
    events: [row(TAG, 'index', NOT_SPECIFIED)],
  },
  {
    name: 'crane-pull',
    title: 'crane pull (default platform linux/amd64)',
    image: 'index',
    requests: ['GET :1.0 (index)', 'GET @index-amd64'],
    sessions: { pulls: [row(TAG, 'index', 'amd64')], checks: [] },
    events: [row(TAG, 'index', NOT_SPECIFIED)],
  },
  {
    name: 'crane-digest',
    title: 'crane digest',
    image: 'index',
    requests: ['HEAD :1.0 (index)'],
    sessions: { pulls: [], checks: [row(TAG, 'index', NOT_SPECIFIED)] },
    events: [row(TAG, 'index', NOT_SPECIFIED)],
  },
];

const repositoryOf = (scenario: Scenario): string => `e2e/${scenario.name}`;

/** The images, each in a repository of its own that only the warm-up client asks for. */
const WARM_UP_IMAGES: Array<Scenario['image']> = ['index', 'list', 'single', 'noarch'];
const warmUpRepositoryOf = (image: Scenario['image']): string => `e2e/warm-up-${image}`;

const sortRows = (rows: Row[]): Row[] =>
  [...rows].sort((a, b) => [a.tag, a.image, a.architecture].join('\u0000').localeCompare([b.tag, b.image, b.architecture].join('\u0000')));

interface Manifest {
  mediaType?: string;
  config?: { digest: string };
  layers?: Array<{ digest: string }>;
  manifests?: Array<{ digest: string; mediaType: string; platform?: Platform }>;
}

/** Everything both runs observed, per policy and scenario, for docs/counting.md. */
const observed: Record<Policy, Map<string, Observed>> = { sessions: new Map(), events: new Map() };

function countPolicySuite(policy: Policy): void {
  describe(`STATICREG_COUNT_POLICY=${policy}: every client's requests, counted`, function () {
    this.timeout(180_000);

    const token = randomBytes(16).toString('hex');
    let workDir: string;
    let database: TestDatabase;
    let redis: Redis;
    let queue: Queue<PullJobData>;
    let receiver: AppProcess;
    let worker: AppProcess;
    let registry: Registry;
    let pullDate: string;
    /** label -> digest and back, for the images as the registry stores them. */
    const digests = new Map<string, string>();
    const labels = new Map<string, string>();

    const remember = (label: string, digest: string): void => {
      digests.set(label, digest);
      labels.set(digest, label);
    };
    const digestOf = (label: string): string => {
      const digest = digests.get(label);
      if (!digest) throw new Error(`no image labelled ${label}`);
      return digest;
    };
    const labelOf = (digest: string): string => labels.get(digest) ?? digest;

    /** The registry's own storage: lets the test learn digests without a request, so without an event. */
    const storage = (...parts: string[]): string => join(workDir, 'registry', 'storage', 'docker', 'registry', 'v2', ...parts);
    const storedTag = async (repository: string, tag: string): Promise<string> =>
      (await readFile(storage('repositories', repository, '_manifests', 'tags', tag, 'current', 'link'), 'utf8')).trim();
    const storedManifest = async (digest: string): Promise<Manifest> =>
      JSON.parse(await readFile(storage('blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data'), 'utf8')) as Manifest;

    before(async function () {
      workDir = await mkdtemp(join(tmpdir(), `staticreg-policies-${policy}-`));
      database = await createTestDatabase();
      redis = await freshRedis();
      queue = createPullQueue(redis);

      const receiverPort = await freePort();
      const workerPort = await freePort();
      const registryPort = await freePort();
      const common = { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_LOG_LEVEL: 'debug' };
      receiver = startApp('receiver', { ...common, STATICREG_RECEIVER_PORT: String(receiverPort), STATICREG_WEBHOOK_TOKEN: token });
      // Both runs get the registry's address, so the only difference between them is the policy.
      worker = startApp('worker', {
        ...common,
        STATICREG_COUNT_POLICY: policy,
        STATICREG_SESSION_WINDOW_SECONDS: String(WINDOW_SECONDS),
        STATICREG_REGISTRY_HOSTNAME: `127.0.0.1:${registryPort}`,
        STATICREG_DB_URL: database.url,
        STATICREG_WORKER_PORT: String(workerPort),
        STATICREG_BATCH_MAX_WAIT_MS: '50',
        // A read slowed by a busy machine must not fail: a failed read is retried only a minute later.
        STATICREG_REGISTRY_TIMEOUT_MS: '60000',
      });
      await Promise.all([
        waitForHttp(`http://127.0.0.1:${receiverPort}/readyz`, receiver),
        waitForHttp(`http://127.0.0.1:${workerPort}/readyz`, worker),
      ]);
      registry = await startRegistry({
        dir: join(workDir, 'registry'),
        port: registryPort,
        debugPort: await freePort(),
        notificationUrl: `http://127.0.0.1:${receiverPort}/api/webhook/registry`,
        token,
      });

      // Fresh digests per run (a nonce in every layer): nothing cached by an earlier run can skip a blob or a lookup.
      const nonce = randomBytes(8).toString('hex');
      const child = (platform: Platform) => buildImage(platform, 'hello.txt', `${platform.architecture}${platform.variant ?? ''} ${nonce}\n`);
      const index = buildIndex([AMD64, ARM64, ARMV7].map((platform) => ({ platform, image: child(platform) })));
      const single = buildImage(AMD64, 'hello.txt', `single ${nonce}\n`);
      // A config without an architecture: the registry cannot tell the platform, so the User-Agent has to.
      const noarch = buildImage({ architecture: '', os: 'linux' }, 'hello.txt', `noarch ${nonce}\n`);
      await writeOciLayout(join(workDir, 'index'), TAG, index);
      await writeOciLayout(join(workDir, 'single'), TAG, single);
      await writeOciLayout(join(workDir, 'noarch'), TAG, noarch);

      // One repository per scenario. Pushes emit no manifest pull events, so they cannot join any session.
      const dest = '--dest-tls-verify=false';
      const pushes = [
        ...SCENARIOS.map((scenario) => ({ repository: repositoryOf(scenario), image: scenario.image })),
        ...WARM_UP_IMAGES.map((image) => ({ repository: warmUpRepositoryOf(image), image })),
      ];
      for (const scenario of pushes) {
        const target = `docker://${registry.host}/${scenario.repository}:${TAG}`;
        if (scenario.image === 'index') await skopeo('copy', '--all', dest, `oci:${join(workDir, 'index')}:${TAG}`, target);
        else if (scenario.image === 'list') await skopeo('copy', '--all', '--format=v2s2', dest, `oci:${join(workDir, 'index')}:${TAG}`, target);
        else await skopeo('copy', dest, `oci:${join(workDir, scenario.image)}:${TAG}`, target);
      }

      // Labels for the digests the registry really holds (the docker list and its children were converted by skopeo).
      for (const scenario of pushes) {
        const top = await storedTag(scenario.repository, TAG);
        if (digests.has(scenario.image)) {
          expect(top, `${scenario.repository}:${TAG}`).to.equal(digestOf(scenario.image));
          continue;
        }
        remember(scenario.image, top);
        for (const entry of (await storedManifest(top)).manifests ?? []) {
          remember(`${scenario.image}-${entry.platform!.architecture}${entry.platform!.variant === 'v7' ? 'v7' : ''}`, entry.digest);
        }
      }
      expect(digestOf('index')).to.equal(index.root.digest);
      expect((await storedManifest(digestOf('list'))).mediaType).to.equal(DOCKER_LIST);

      if (policy === 'sessions') await warmUp();
      pullDate = utcDayOf(Date.now());
      await replayClients();
      if (utcDayOf(Date.now()) !== pullDate) throw new Error(`the pulls straddled UTC midnight (${pullDate} -> ${utcDayOf(Date.now())}); run the test again`);

      // The scenarios' events, then the worker's own registry reads (made while counting), all delivered and stored.
      await registryDeliveredAll();
      await queueDrained(queue, worker);
      await registryDeliveredAll();
      await queueDrained(queue, worker);
    });

    after(async function () {
      await registry?.stop();
      await Promise.all([receiver?.stop(), worker?.stop()]);
      await queue?.close();
      redis?.disconnect();
      await database?.drop();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    });

    /** Resolves once the registry has delivered every event it queued, all accepted. */
    async function registryDeliveredAll(): Promise<void> {
      const delivered = await registryDelivered(registry);
      expect(delivered.Statuses, 'answers to the registry').to.deep.equal({ '200 OK': delivered.Events });
    }

    /** One HTTP request of a client; it must succeed, as every request a real client goes on from does. */
    async function send(method: 'GET' | 'HEAD', path: string, userAgent: string, accept?: string): Promise<{ digest: string; body: Buffer }> {
      const response = await fetch(`${registry.baseUrl}/v2/${path}`, {
        method,
        headers: { 'User-Agent': userAgent, ...(accept ? { Accept: accept } : {}) },
      });
      const body = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200) throw new Error(`${method} /v2/${path} (${userAgent}): ${response.status} ${body.toString()}`);
      return { digest: response.headers.get('docker-content-digest') ?? '', body };
    }

    const manifest = (method: 'GET' | 'HEAD', repository: string, ref: string, userAgent: string, accept: string) =>
      send(method, `${repository}/manifests/${ref}`, userAgent, accept);

    /** The child of an index a client on `platform` takes, as it reads it from the index it was served. */
    function childFor(body: Buffer, platform: Platform): { digest: string; mediaType: string } {
      const entries = (JSON.parse(body.toString()) as Manifest).manifests ?? [];
      const entry = entries.find(
        (candidate) =>
          candidate.platform?.os === platform.os &&
          candidate.platform.architecture === platform.architecture &&
          (platform.variant === undefined || candidate.platform.variant === platform.variant),
      );
      if (!entry) throw new Error(`no ${JSON.stringify(platform)} in the index`);
      return entry;
    }

    /** A client downloading an image it was served: config first, then the layers (blob events, never counted). */
    async function downloadBlobs(repository: string, body: Buffer, userAgent: string): Promise<void> {
      const image = JSON.parse(body.toString()) as Manifest;
      for (const blob of [image.config!, ...image.layers!]) await send('GET', `${repository}/blobs/${blob.digest}`, userAgent);
    }

    /**
     * docker 24 (classic store; moby pullV2Tag): HEAD the tag, stop if the digest is the local one ("Image is up to
     * date"), else GET it by digest, GET the platform's manifest from an index, then the blobs.
     */
    async function dockerPull(repository: string, platform: Platform, upToDate: boolean): Promise<void> {
      const head = await manifest('HEAD', repository, TAG, DOCKER_ARM64_UA, DOCKER_ACCEPT);
      if (upToDate) return;
      let served = await manifest('GET', repository, head.digest, DOCKER_ARM64_UA, DOCKER_ACCEPT);
      const top = JSON.parse(served.body.toString()) as Manifest;
      if (INDEX_TYPES.has(top.mediaType ?? '')) {
        served = await manifest('GET', repository, childFor(served.body, platform).digest, DOCKER_ARM64_UA, DOCKER_ACCEPT);
      }
      await downloadBlobs(repository, served.body, DOCKER_ARM64_UA);
    }

    /**
     * containerd 1.7 (ctr pull, or the CRI plugin for kubelet): the resolver HEADs the reference (the tag, or the
     * digest of a pinned image), the fetcher GETs the index and the platform's manifest by digest, then the blobs.
     */
    async function containerdPull(repository: string, ref: string, platform: Platform): Promise<void> {
      const head = await manifest('HEAD', repository, ref, CONTAINERD_UA, CONTAINERD_RESOLVE_ACCEPT);
      const index = await manifest('GET', repository, head.digest, CONTAINERD_UA, containerdFetchAccept(OCI_INDEX));
      const child = childFor(index.body, platform);
      const image = await manifest('GET', repository, child.digest, CONTAINERD_UA, containerdFetchAccept(child.mediaType));
      await downloadBlobs(repository, image.body, CONTAINERD_UA);
    }

    /** podman 5 (containers/image): GET the tag, GET the platform's manifest from the list, then the blobs. */
    async function podmanPull(repository: string, platform: Platform): Promise<void> {
      const list = await manifest('GET', repository, TAG, PODMAN_UA, PODMAN_ACCEPT);
      const image = await manifest('GET', repository, childFor(list.body, platform).digest, PODMAN_UA, PODMAN_ACCEPT);
      await downloadBlobs(repository, image.body, PODMAN_UA);
    }

    /**
     * crane pull (go-containerregistry remote.Get, then Descriptor.Image): GET the tag, GET the default platform's
     * (linux/amd64) manifest asking for its own type only, then config and layers for the tarball.
     */
    async function cranePull(repository: string): Promise<void> {
      const index = await manifest('GET', repository, TAG, CRANE_UA, CRANE_ACCEPT);
      const child = childFor(index.body, AMD64);
      const image = await manifest('GET', repository, child.digest, CRANE_UA, child.mediaType);
      await downloadBlobs(repository, image.body, CRANE_UA);
    }

    /**
     * The worker reads a manifest it does not know in the background and counts the batch that named it
     * meanwhile (docs/counting.md): a scenario's first request may be counted before or after that read ends.
     * So that every scenario is counted with the descriptions known, and the rows do not depend on timing, a
     * client of its own first HEADs each image's tag in a repository of its own, and the test waits until the
     * worker has described them all: the index and the list with their children, the two single images.
     */
    async function warmUp(): Promise<void> {
      for (const image of WARM_UP_IMAGES) await manifest('HEAD', warmUpRepositoryOf(image), TAG, WARM_UP_UA, DOCKER_ACCEPT);
      const expected = [...digests.keys()].length;
      await eventually(
        async () => {
          const described = await database.db.selectFrom('manifest_descriptions').select('digest').execute();
          return described.length === expected;
        },
        60_000,
        `the worker to describe all ${expected} images`,
      );
    }

    /** The clients, one scenario at a time; docker-twice's second pull waits until its first is a window behind. */
    async function replayClients(): Promise<void> {
      const src = '--src-tls-verify=false';
      const remote = (scenario: string): string => `docker://${registry.host}/e2e/${scenario}:${TAG}`;
      const out = (name: string): string => join(workDir, 'out', name);
      await mkdir(join(workDir, 'out'), { recursive: true });

      await dockerPull('e2e/docker-twice', ARM64, false);
      const firstPullDone = Date.now();

      await dockerPull('e2e/docker-pull', ARM64, false);
      await dockerPull('e2e/docker-up-to-date', ARM64, true);
      await dockerPull('e2e/docker-noarch', ARM64, false);
      await containerdPull('e2e/containerd', TAG, AMD64);
      await containerdPull('e2e/kubelet-pinned', digestOf('index'), ARMV7);
      await podmanPull('e2e/podman', AMD64);
      await skopeo(...SKOPEO_AMD64, 'copy', src, remote('skopeo-copy'), `dir:${out('skopeo-copy')}`);
      await skopeo(...SKOPEO_AMD64, 'copy', src, remote('skopeo-copy-single'), `dir:${out('skopeo-copy-single')}`);
      await skopeo('copy', '--all', src, remote('skopeo-copy-all'), `oci:${out('skopeo-copy-all')}:${TAG}`);
      const inspected = JSON.parse(await skopeo(...SKOPEO_AMD64, 'inspect', '--tls-verify=false', remote('skopeo-inspect'))) as { Architecture: string };
      expect(inspected.Architecture, 'skopeo inspect answered for the amd64 image').to.equal('amd64');
      const raw = JSON.parse(await skopeo('inspect', '--raw', '--tls-verify=false', remote('skopeo-inspect-raw'))) as Manifest;
      expect(raw.mediaType, 'skopeo inspect --raw answered with the index').to.equal(OCI_INDEX);
      await cranePull('e2e/crane-pull');
      // crane digest (remote.Head): one HEAD of the tag.
      await manifest('HEAD', 'e2e/crane-digest', TAG, CRANE_UA, CRANE_ACCEPT);

      // The registry stamps each event at its request: a wait from the end of the first pull leaves a gap of more than
      // the window between the two sessions' events, whatever the delivery delays.
      const gapMs = (WINDOW_SECONDS + 1) * 1000;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstPullDone + gapMs - Date.now())));
      await dockerPull('e2e/docker-twice', ARM64, true);
    }

    /** The manifest requests of one repository as the sessions run stored them, in time order. */
    async function requestsOf(repository: string): Promise<string[]> {
      const events = await database.db
        .selectFrom('pull_session_events')
        .select(['event_time', 'event_id', 'method', 'tag', 'digest'])
        .where('repo_name', '=', repository)
        .orderBy('event_time')
        .orderBy('event_id')
        .execute();
      return events.map((event) =>
        event.tag === '' ? `${event.method} @${labelOf(event.digest)}` : `${event.method} :${event.tag} (${labelOf(event.digest)})`,
      );
    }

    async function rowsOf(repository: string): Promise<{ pulls: Row[]; checks: Row[] }> {
      const pulls = await database.db
        .selectFrom('container_pull_metrics')
        .select(['pull_date', 'tag', 'digest', 'architecture', 'pull_count as count'])
        .where('repo_name', '=', repository)
        .execute();
      const checks = await database.db
        .selectFrom('container_pull_checks')
        .select(['pull_date', 'tag', 'digest', 'architecture', 'check_count as count'])
        .where('repo_name', '=', repository)
        .execute();
      const toRows = (rows: typeof pulls): Row[] => {
        // Every row of this run is dated the day of the requests (checked not to straddle midnight).
        for (const found of rows) expect(found.pull_date, `${repository} row date`).to.equal(pullDate);
        return sortRows(rows.map((found) => row(found.tag, labelOf(found.digest), found.architecture, found.count)));
      };
      return { pulls: toRows(pulls), checks: toRows(checks) };
    }

    for (const scenario of SCENARIOS) {
      it(`${scenario.title}`, async function () {
        const repository = repositoryOf(scenario);
        const found = await rowsOf(repository);
        const requests = policy === 'sessions' ? await requestsOf(repository) : [];
        observed[policy].set(scenario.name, { requests, ...found });
        // The real clients (skopeo) and the replayed ones sent exactly the manifest requests described.
        if (policy === 'sessions') expect(requests, 'manifest requests').to.deep.equal(scenario.requests);
        const expected = policy === 'sessions' ? scenario.sessions : { pulls: scenario.events, checks: [] };
        expect(found).to.deep.equal({ pulls: sortRows(expected.pulls), checks: sortRows(expected.checks) });
      });
    }

    it('adds no row outside the scenarios and the warm-up, and no row with a count below 1', async function () {
      const repositories = new Set([...SCENARIOS.map(repositoryOf), ...WARM_UP_IMAGES.map(warmUpRepositoryOf)]);
      const pulls = await database.db.selectFrom('container_pull_metrics').select(['repo_name', 'pull_count']).execute();
      const checks = await database.db.selectFrom('container_pull_checks').select(['repo_name', 'check_count as pull_count']).execute();
      for (const found of [...pulls, ...checks]) {
        expect(repositories.has(found.repo_name), found.repo_name).to.equal(true);
        expect(found.pull_count, found.repo_name).to.be.at.least(1);
      }
    });

    if (policy === 'sessions') {
      it('reads each manifest the platform depends on from the registry once, as staticreg, and counts none of those reads', async function () {
        // The index, the list and the two single images, read after the warm-up named them; children get their
        // platform from their index, never a read. The receiver sees these reads (staticreg's User-Agent) and skips them.
        const reads = receiver.logLines('Skipped event').filter((line) => line.reason === 'ignored-user-agent');
        expect(reads, 'staticreg manifest reads').to.have.length(4);
        const described = await database.db.selectFrom('manifest_descriptions').select(['digest', 'kind', 'platform']).orderBy('digest').execute();
        const byLabel = Object.fromEntries(described.map((entry) => [labelOf(entry.digest), [entry.kind, entry.platform]]));
        expect(byLabel).to.deep.equal({
          index: ['index', null],
          'index-amd64': ['image', 'amd64'],
          'index-arm64': ['image', 'arm64'],
          'index-armv7': ['image', 'arm/v7'],
          list: ['index', null],
          'list-amd64': ['image', 'amd64'],
          'list-arm64': ['image', 'arm64'],
          'list-armv7': ['image', 'arm/v7'],
          single: ['image', 'amd64'],
          noarch: ['image', null],
        });
      });
    } else {
      it('never reads the registry and writes no check', async function () {
        const reads = receiver.logLines('Skipped event').filter((line) => line.reason === 'ignored-user-agent');
        expect(reads, 'staticreg manifest reads').to.have.length(0);
        const checks = await database.db.selectFrom('container_pull_checks').select('id').execute();
        expect(checks).to.have.length(0);
      });
    }
  });
}

const DOC = join(REPO_ROOT, 'docs', 'counting.md');
const BEGIN = '<!-- BEGIN generated by test/e2e/count-policies.test.ts (STATICREG_WRITE_COUNTING_DOC=1) -->';
const END = '<!-- END generated -->';

function showRows(rows: Row[] | undefined): string {
  if (!rows) return '?';
  if (rows.length === 0) return '–';
  return rows.map((found) => `${found.tag === '' ? '(none)' : found.tag} · ${found.image} · ${found.architecture} ×${found.count}`).join('<br>');
}

/** The observed rows of both runs as a markdown table, one line per scenario. */
function countingTable(): string {
  const lines = [
    '| Scenario | Manifest requests the registry reported | `sessions`: pulls | `sessions`: checks | `events`: pulls |',
    '|---|---|---|---|---|',
  ];
  for (const scenario of SCENARIOS) {
    const sessions = observed.sessions.get(scenario.name);
    const perEvent = observed.events.get(scenario.name);
    const requests = sessions ? sessions.requests.map((request) => `\`${request}\``).join(' → ') : '?';
    lines.push(`| ${scenario.title} | ${requests} | ${showRows(sessions?.pulls)} | ${showRows(sessions?.checks)} | ${showRows(perEvent?.pulls)} |`);
  }
  return lines.join('\n');
}

describe('count policies end to end (docker-registry 2.8.2, real and replayed clients, receiver, worker, Postgres)', function () {
  countPolicySuite('sessions');
  countPolicySuite('events');

  after(async function () {
    if (process.env.STATICREG_WRITE_COUNTING_DOC !== '1') return;
    const doc = await readFile(DOC, 'utf8');
    const begin = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    if (begin < 0 || end < begin) throw new Error(`${DOC} has no generated section (${BEGIN} … ${END})`);
    await writeFile(DOC, `${doc.slice(0, begin + BEGIN.length)}\n${countingTable()}\n${doc.slice(end)}`);
  });
});
