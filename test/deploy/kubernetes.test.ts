// deploy/kubernetes/*.yaml: every object valid against the Kubernetes API schemas (kubernetes-models, bundled
// with the package, nothing fetched), and the properties docs/deploy.md promises: probes, non-root, read-only
// root filesystem, no capabilities, resource requests, a PodDisruptionBudget for the receiver, references that
// resolve, and only variables that libs/config reads.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';

const root = join(import.meta.dirname, '..', '..');
const manifestDir = join(root, 'deploy', 'kubernetes');

interface Validatable {
  validate(): void;
}
/** The kinds the manifests may hold, each with the model whose validate() checks it against the API schema. */
const models: Record<string, (object: Record<string, unknown>) => Validatable> = {
  'v1/ConfigMap': (object) => new ConfigMap(object as unknown as IConfigMap),
  'v1/Service': (object) => new Service(object as unknown as IService),
  'apps/v1/Deployment': (object) => new Deployment(object as unknown as IDeployment),
  'policy/v1/PodDisruptionBudget': (object) => new PodDisruptionBudget(object as unknown as IPodDisruptionBudget),
};

interface Manifest {
  file: string;
  object: Record<string, unknown>;
}

async function loadManifests(): Promise<Manifest[]> {
  const files = (await readdir(manifestDir)).filter((name) => name.endsWith('.yaml')).sort();
  const manifests: Manifest[] = [];
  for (const file of files) {
    for (const document of parseAllDocuments(await readFile(join(manifestDir, file), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
      manifests.push({ file, object: document.toJS() as Record<string, unknown> });
    }
  }
  return manifests;
}

function validationError(object: Record<string, unknown>): string | undefined {
  const model = models[`${String(object.apiVersion)}/${String(object.kind)}`];
  if (!model) return `unexpected kind ${String(object.apiVersion)}/${String(object.kind)}`;
  try {
    model(object).validate();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const ofKind = <T>(manifests: Manifest[], kind: string): T[] =>
  manifests.filter((manifest) => manifest.object.kind === kind).map((manifest) => manifest.object as T);

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);

describe('deploy/kubernetes manifests', function () {
  let manifests: Manifest[];
  let deployments: IDeployment[];
  before(async function () {
    manifests = await loadManifests();
    deployments = ofKind<IDeployment>(manifests, 'Deployment');
  });

  it('the validator rejects an object the API server would reject', function () {
    const broken = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broken' },
      spec: {
        selector: { matchLabels: { app: 'x' } },
        template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'x', image: 'x', ports: [{ containerPort: 'http' }] }] } },
      },
    };
    expect(validationError(broken)).to.match(/containerPort must be integer/);
    expect(validationError({ apiVersion: 'v1', kind: 'Pod' })).to.equal('unexpected kind v1/Pod');
  });

  it('every object is valid against the Kubernetes API schemas', function () {
    expect(manifests.length).to.be.greaterThan(0);
    for (const { file, object } of manifests) {
      expect(validationError(object), `${file}: ${String(object.kind)} ${JSON.stringify((object.metadata as { name?: string })?.name)}`).to.equal(undefined);
    }
  });

  it('runs receiver, worker and browse, each on its own main, with /healthz and /readyz probes', async function () {
    const byName = new Map(deployments.map((deployment) => [deployment.metadata?.name, deployment]));
    for (const app of ['receiver', 'worker', 'browse']) {
      const deployment = byName.get(`staticreg-${app}`);
      expect(deployment, `staticreg-${app}`).to.not.equal(undefined);
      const [container] = deployment!.spec!.template.spec!.containers;
      expect(container!.args).to.deep.equal([`apps/${app}/dist/main.js`]);
      await readFile(join(root, 'apps', app, 'src', 'main.ts'));
      const portNames = (container!.ports ?? []).map((port) => port.name);
      expect(container!.livenessProbe?.httpGet?.path, `${app} liveness`).to.equal('/healthz');
      expect(container!.readinessProbe?.httpGet?.path, `${app} readiness`).to.equal('/readyz');
      for (const probe of [container!.livenessProbe, container!.readinessProbe, container!.startupProbe]) {
        if (probe) expect(portNames, `${app} probe port`).to.include(probe.httpGet!.port);
      }
    }
  });

  it('runs every container as non-root on a read-only root filesystem, without capabilities, with requests', function () {
    for (const deployment of deployments) {
      const name = deployment.metadata?.name;
      const pod = deployment.spec!.template.spec!;
      expect(pod.securityContext?.runAsNonRoot, `${name} runAsNonRoot`).to.equal(true);
      expect(pod.securityContext?.runAsUser, `${name} runAsUser`).to.be.greaterThan(0);
      expect(pod.automountServiceAccountToken, `${name} service account token`).to.equal(false);
      // Longer than the processes' own 15 s shutdown deadline (libs/http onShutdownSignal).
      expect(pod.terminationGracePeriodSeconds, `${name} grace period`).to.be.greaterThan(15);
      for (const container of pod.containers) {
        const security = container.securityContext;
        expect(security?.readOnlyRootFilesystem, `${name} readOnlyRootFilesystem`).to.equal(true);
        expect(security?.allowPrivilegeEscalation, `${name} allowPrivilegeEscalation`).to.equal(false);
        expect(security?.capabilities?.drop, `${name} capabilities`).to.deep.equal(['ALL']);
        expect(security?.capabilities?.add, `${name} added capabilities`).to.equal(undefined);
        expect(container.resources?.requests, `${name} requests`).to.include.keys('cpu', 'memory');
      }
    }
  });

  it('Services and the PodDisruptionBudget select pods that exist, on ports they name', function () {
    const services = ofKind<IService>(manifests, 'Service');
    expect(services.map((service) => service.metadata?.name).sort()).to.deep.equal(['staticreg-browse', 'staticreg-receiver']);
    for (const service of services) {
      const selected = deployments.filter((deployment) => matches(service.spec?.selector, deployment.spec!.template.metadata?.labels));
      expect(selected, `${service.metadata?.name} selects`).to.have.length(1);
      const portNames = selected[0]!.spec!.template.spec!.containers.flatMap((container) => (container.ports ?? []).map((port) => port.name));
      for (const port of service.spec?.ports ?? []) expect(portNames).to.include(port.targetPort);
    }
    const budgets = ofKind<IPodDisruptionBudget>(manifests, 'PodDisruptionBudget');
    expect(budgets).to.have.length(1);
    const receiver = deployments.find((deployment) => deployment.metadata?.name === 'staticreg-receiver')!;
    expect(matches(budgets[0]!.spec?.selector?.matchLabels, receiver.spec!.template.metadata?.labels)).to.equal(true);
    expect(budgets[0]!.spec?.minAvailable).to.equal(1);
    expect(receiver.spec?.replicas, 'receiver replicas above the budget').to.be.greaterThan(1);
  });

  it('sets only variables libs/config reads, from the ConfigMap and the Secret, secrets never from the ConfigMap', async function () {
    const configDir = join(root, 'libs', 'config', 'src');
    const configFiles = (await readdir(configDir)).filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'));
    const configSource = (await Promise.all(configFiles.map((file) => readFile(join(configDir, file), 'utf8')))).join('\n');
    const known = new Set(configSource.match(/'STATICREG_[A-Z_]+'/g)!.map((quoted) => quoted.slice(1, -1)));
    const configMaps = ofKind<IConfigMap>(manifests, 'ConfigMap');
    expect(configMaps.map((configMap) => configMap.metadata?.name)).to.deep.equal(['staticreg']);
    const data = configMaps[0]!.data ?? {};
    for (const key of Object.keys(data)) {
      expect(known, `ConfigMap key ${key}`).to.include(key);
      expect(key, 'a secret in the ConfigMap').to.not.match(/TOKEN|PASSWORD|_URL$/);
    }
    for (const deployment of deployments) {
      for (const container of deployment.spec!.template.spec!.containers) {
        for (const variable of container.env ?? []) {
          expect(known, `${deployment.metadata?.name}: ${variable.name}`).to.include(variable.name);
          const fromConfigMap = variable.valueFrom?.configMapKeyRef;
          const fromSecret = variable.valueFrom?.secretKeyRef;
          expect(variable.value, `${variable.name} is set inline`).to.equal(undefined);
          if (fromConfigMap) {
            expect(fromConfigMap.name).to.equal('staticreg');
            expect(data, `${variable.name} in the ConfigMap`).to.have.property(fromConfigMap.key);
          } else {
            expect(fromSecret?.name, `${variable.name} from the Secret`).to.equal('staticreg');
            expect(fromSecret?.key).to.equal(variable.name);
          }
          if (/TOKEN|PASSWORD|_URL$/.test(variable.name)) expect(fromSecret, `${variable.name} is a secret`).to.not.equal(undefined);
        }
      }
    }
  });
});
