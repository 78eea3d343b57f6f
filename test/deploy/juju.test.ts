/**
 * The juju driver against test/stand-ins/juju, a STAND-IN for the Juju CLI (no controller can run here):
 * exact argv, status parsing, waiting for a model that settles, fails or never settles. Plus the status
 * parser on Juju 3.x and 2.9 shaped output.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { AirgapError } from '../../src/errors.ts';
import { Juju, JujuCommandError, JujuWaitError, formatCommand } from '../../src/deploy/juju.ts';
import { hasRelation, inError, notReady, parseJujuStatus } from '../../src/deploy/juju-status.ts';
import type { ModelState } from '../../src/deploy/juju-status.ts';
import type { NotReady } from '../../src/deploy/juju-status.ts';
import { useTempDir } from '../support/tmp.ts';

const STAND_IN = fileURLToPath(new URL('../stand-ins/juju', import.meta.url));
const CKF_BUNDLE = fileURLToPath(new URL('../fixtures/ckf/1.7-bundle-airgap.yaml', import.meta.url));

const tmp = useTempDir('airgap-juju-');
/** This test's own directory: its model, its argv log, the files it deploys. */
let dir: string;
let statePath: string;
let logPath: string;

beforeEach(async () => {
  dir = await tmp.dir('case');
  statePath = join(dir, 'state.json');
  logPath = join(dir, 'juju-argv.log');
  await writeFile(statePath, JSON.stringify({ model: 'kubeflow' }));
});

function standInEnv(mode = 'settle', extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, JUJU_STANDIN_STATE: statePath, JUJU_STANDIN_LOG: logPath, JUJU_STANDIN_MODE: mode, ...extra };
}

function juju(mode = 'settle'): Juju {
  return new Juju({ jujuPath: STAND_IN, model: 'kubeflow', env: standInEnv(mode) });
}

async function recorded(): Promise<string[][]> {
  const text = await readFile(logPath, 'utf8');
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as string[]);
}

interface StandInState {
  applications?: Record<string, { options: Record<string, string>; resources: Record<string, string>; trust: boolean }>;
}

async function standInState(): Promise<StandInState> {
  return JSON.parse(await readFile(statePath, 'utf8')) as StandInState;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err: unknown) {
    return err;
  }
  throw new Error('expected a failure, got success');
}

/** The real Kubeflow 1.7 air-gapped bundle beside empty charm files, as after `airgap load`. */
async function ckfBundle(): Promise<string> {
  const bundle = join(dir, 'bundle.airgap.yaml');
  await copyFile(CKF_BUNDLE, bundle);
  const text = await readFile(bundle, 'utf8');
  for (const charm of new Set(text.match(/\.\/[\w.-]+\.charm/g) ?? [])) await writeFile(join(dir, charm), '');
  return bundle;
}

async function deployArgo(j: Juju): Promise<void> {
  const charm = join(dir, 'argo-controller_1b8dd06.charm');
  await writeFile(charm, '');
  await j.run(j.deployCharmCommand(charm, 'argo-controller', { resources: { 'oci-image': '10.0.0.5:5000/argoproj/workflow-controller:v3.3.9' }, config: {} }));
}

describe('Juju driver against the stand-in juju', () => {
  it('finds juju on PATH and reads its version', async () => {
    const j = new Juju({ env: { ...standInEnv(), PATH: `${dirname(STAND_IN)}${delimiter}${process.env.PATH ?? ''}` } });
    expect(j.executable).toBe('juju');
    expect(await j.version()).toBe('3.4.0-genericlinux-amd64');
    expect(await recorded()).toEqual([['version']]);
  });

  it('says juju is not found, where it looked, and what to do', async () => {
    const missing = join(dir, 'no-such', 'juju');
    const err = await failure(new Juju({ jujuPath: missing }).version());
    expect(err).toBeInstanceOf(AirgapError);
    expect(err).not.toBeInstanceOf(JujuCommandError);
    expect((err as AirgapError).message).toBe(`juju not found (looked for ${missing})`);
    expect((err as AirgapError).hint).toBe('install the juju snap or pass --juju PATH');

    const onPath = await failure(new Juju({ env: { PATH: dir } }).status());
    expect((onPath as AirgapError).message).toBe('juju not found (looked for "juju" on PATH)');
  });

  it('deploys a bundle with --trust and an overlay, exactly as built, and reads back the model', async () => {
    const bundle = await ckfBundle();
    const overlay = join(dir, 'overlay.yaml');
    await writeFile(overlay, 'applications:\n  istio-ingressgateway:\n    options:\n      gateway_service_type: LoadBalancer\n');
    const j = juju();
    const command = j.deployBundleCommand(bundle, { trust: true, overlays: [overlay] });
    expect(command).toEqual(['deploy', bundle, '--trust', '--overlay', overlay, '-m', 'kubeflow']);
    const { stderr } = await j.run(command);
    expect(stderr).toContain('Deploy of bundle completed.');
    expect(await recorded()).toEqual([['deploy', bundle, '--trust', '--overlay', overlay, '-m', 'kubeflow']]);

    const options = (await standInState()).applications?.['istio-ingressgateway']?.options;
    expect(options).toEqual({ kind: 'ingress', 'proxy-image': '172.17.0.2:5000/istio/proxyv2:1.16.2', gateway_service_type: 'LoadBalancer' });

    const state = await j.status();
    expect(state.model).toBe('kubeflow');
    expect(state.applications.size).toBe(19);
    const pilot = state.applications.get('istio-pilot');
    expect(pilot).toMatchObject({ name: 'istio-pilot', status: 'maintenance', charm: 'local:istio-pilot-0' });
    expect(pilot?.units).toEqual([{ name: 'istio-pilot/0', workload: 'maintenance', workloadMessage: 'installing charm software', agent: 'executing' }]);
    expect(hasRelation(state, 'istio-pilot:ingress', 'dex-auth:ingress')).toBe(true);
    expect(hasRelation(state, 'kserve-controller:ingress-gateway', 'istio-pilot:gateway-info')).toBe(true);
    expect(hasRelation(state, 'kubeflow-profiles', 'kubeflow-dashboard')).toBe(true);
    expect(hasRelation(state, 'katib-db-manager', 'kfp-db')).toBe(false);
    expect(state.relations).toHaveLength(9);
  });

  it('keeps relative bundle and charm paths looking like paths, so Juju does not ask Charmhub', () => {
    const j = new Juju({ jujuPath: STAND_IN });
    expect(j.deployBundleCommand('bundle.yaml', { trust: false, overlays: [] })).toEqual(['deploy', './bundle.yaml']);
    expect(j.deployBundleCommand('../b.yaml', { trust: false, overlays: [] })).toEqual(['deploy', '../b.yaml']);
    expect(j.deployCharmCommand('x.charm', 'x', { resources: {}, config: {}, trust: true })).toEqual(['deploy', './x.charm', 'x', '--trust']);
  });

  it('refuses config keys Juju would split wrongly, and numbers it cannot take', () => {
    const j = juju();
    expect(() => j.deployCharmCommand('./c.charm', 'c', { resources: {}, config: { 'a=b': 'x' } })).toThrow(AirgapError);
    expect(() => j.deployCharmCommand('./c.charm', 'c', { resources: { '': 'x' }, config: {} })).toThrow(/resource name ""/);
    expect(() => j.deployCharmCommand('./c.charm', 'c', { resources: {}, config: { n: Number.NaN } })).toThrow(/config option n/);
  });

  it('deploys a charm with resources and config (spaces, quotes, brackets) recorded byte for byte', async () => {
    const charm = join(dir, 'jupyter-ui_44f2a27.charm');
    await writeFile(charm, '');
    const images = "['10.0.0.5:5000/charmedkubeflow/jupyter-scipy:v1.7.0_20.04_1', '10.0.0.5:5000/x:1']";
    const json = '{"global-hub": "10.0.0.5:5000/istio", "note": "it\'s $HOME `x` ; rm -rf /", }';
    const j = juju();
    const command = j.deployCharmCommand(charm, 'jupyter-ui', {
      resources: { 'oci-image': '10.0.0.5:5000/kubeflownotebookswg/jupyter-web-app:v1.7.0' },
      config: { 'jupyter-images': images, 'image-configuration': json, 'executor-image': 'a=b', port: 8080, secure: true, off: false },
      trust: true,
    });
    const expected = [
      'deploy', charm, 'jupyter-ui',
      '--resource', 'oci-image=10.0.0.5:5000/kubeflownotebookswg/jupyter-web-app:v1.7.0',
      '--config', `jupyter-images=${images}`,
      '--config', `image-configuration=${json}`,
      '--config', 'executor-image=a=b',
      '--config', 'port=8080',
      '--config', 'secure=true',
      '--config', 'off=false',
      '--trust',
      '-m', 'kubeflow',
    ];
    expect(command).toEqual(expected);
    await j.run(command);
    expect(await recorded()).toEqual([expected]);
    const app = (await standInState()).applications?.['jupyter-ui'];
    expect(app?.options).toEqual({ 'jupyter-images': images, 'image-configuration': json, 'executor-image': 'a=b', port: '8080', secure: 'true', off: 'false' });
    expect(app?.resources).toEqual({ 'oci-image': '10.0.0.5:5000/kubeflownotebookswg/jupyter-web-app:v1.7.0' });
    expect(app?.trust).toBe(true);
  });

  it('relates applications, and names the unknown one when Juju refuses', async () => {
    const bundle = await ckfBundle();
    const j = juju();
    await j.run(j.deployBundleCommand(bundle, { trust: true, overlays: [] }));
    await deployArgo(j);
    expect(j.relateCommand('argo-controller', 'kfp-api:relational-db')).toEqual(['relate', 'argo-controller', 'kfp-api:relational-db', '-m', 'kubeflow']);
    await j.run(j.relateCommand('argo-controller', 'kfp-api:relational-db'));
    const state = await j.status();
    expect(hasRelation(state, 'kfp-api', 'argo-controller')).toBe(true);
    expect(hasRelation(state, 'argo-controller:relational-db', 'kfp-api:relational-db')).toBe(true);

    const err = await failure(j.run(j.relateCommand('argo-controller', 'minio')));
    expect(err).toBeInstanceOf(JujuCommandError);
    const failed = err as JujuCommandError;
    expect(failed.exitCode).toBe(1);
    expect(failed.argv).toEqual([STAND_IN, 'relate', 'argo-controller', 'minio', '-m', 'kubeflow']);
    expect(failed.stderrTail).toEqual(['ERROR application "minio" not found']);
    expect(failed.message).toBe(`${STAND_IN} relate argo-controller minio -m kubeflow failed with exit code 1:\n  ERROR application "minio" not found`);
  });

  it('waits until every unit settles to active/idle, reporting each poll', async () => {
    const j = juju();
    await deployArgo(j);
    const polls: NotReady[][] = [];
    const state = await j.waitForActive(['argo-controller'], { timeoutMs: 60_000, pollMs: 20, onPoll: (_state, waiting) => polls.push(waiting) });
    expect(state.applications.get('argo-controller')?.status).toBe('active');
    expect(polls).toEqual([
      [{ application: 'argo-controller', unit: 'argo-controller/0', status: 'maintenance/executing', message: 'installing charm software' }],
      [{ application: 'argo-controller', unit: 'argo-controller/0', status: 'waiting/executing', message: 'waiting for container' }],
      [],
    ]);
    const statusCalls = (await recorded()).filter((argv) => argv[0] === 'status');
    expect(statusCalls).toEqual([['status', '--format=json', '-m', 'kubeflow'], ['status', '--format=json', '-m', 'kubeflow'], ['status', '--format=json', '-m', 'kubeflow']]);
  });

  it('fails at once when a unit goes to error, naming it with its message', async () => {
    const j = juju('error');
    await deployArgo(j);
    let polls = 0;
    const err = await failure(j.waitForActive(['argo-controller'], { timeoutMs: 600_000, pollMs: 20, onPoll: () => (polls += 1) }));
    expect(err).toBeInstanceOf(JujuWaitError);
    const failed = err as JujuWaitError;
    expect(failed.reason).toBe('error');
    // Second poll: no waiting out the ten minutes.
    expect(polls).toBe(2);
    expect(failed.notReady).toEqual([
      { application: 'argo-controller', unit: 'argo-controller/0', status: 'error/idle', message: 'crash loop: ImagePullBackOff (10.0.0.5:5000/argoproj/workflow-controller:v3.3.9)' },
    ]);
    expect(failed.message).toContain('argo-controller/0 error/idle (crash loop: ImagePullBackOff');
    expect(failed.hint).toBeDefined();
  });

  it('times out on a model that never settles, naming every unit not ready', async () => {
    const bundle = await ckfBundle();
    const j = juju('never');
    await j.run(j.deployBundleCommand(bundle, { trust: true, overlays: [] }));
    const apps = ['istio-pilot', 'dex-auth', 'not-deployed'];
    // Long enough for a few polls even on a loaded machine: each one starts a Node process.
    const err = await failure(j.waitForActive(apps, { timeoutMs: 2000, pollMs: 20 }));
    expect(err).toBeInstanceOf(JujuWaitError);
    const failed = err as JujuWaitError;
    expect(failed.reason).toBe('timeout');
    expect(failed.notReady).toEqual([
      { application: 'istio-pilot', unit: 'istio-pilot/0', status: 'waiting/idle', message: 'Waiting for pod startup to complete' },
      { application: 'dex-auth', unit: 'dex-auth/0', status: 'waiting/idle', message: 'Waiting for pod startup to complete' },
      { application: 'not-deployed', unit: undefined, status: 'missing', message: 'not in the model' },
    ]);
    expect(failed.message).toBe(
      'not active after 2s: istio-pilot/0 waiting/idle (Waiting for pod startup to complete); dex-auth/0 waiting/idle (Waiting for pod startup to complete); not-deployed missing (not in the model)',
    );
  });

  it('rides out a few failed status calls, then gives up with the last error', async () => {
    const j = new Juju({ jujuPath: STAND_IN, model: 'elsewhere', env: standInEnv() });
    const err = await failure(j.waitForActive(['argo-controller'], { timeoutMs: 600_000, pollMs: 10 }));
    expect(err).toBeInstanceOf(JujuCommandError);
    expect((err as JujuCommandError).stderrTail).toEqual(['ERROR model "elsewhere" not found']);
    expect(await recorded()).toHaveLength(4);
  });

  it('surfaces the stderr of a failed deploy in a JujuCommandError', async () => {
    const bundle = await ckfBundle();
    const j = juju('fail-deploy');
    const err = await failure(j.run(j.deployBundleCommand(bundle, { trust: true, overlays: [] })));
    expect(err).toBeInstanceOf(JujuCommandError);
    const failed = err as JujuCommandError;
    expect(failed.exitCode).toBe(1);
    expect(failed.argv).toEqual([STAND_IN, 'deploy', bundle, '--trust', '-m', 'kubeflow']);
    expect(failed.stderrTail).toHaveLength(10);
    expect(failed.stderrTail.at(-1)).toBe('ERROR cannot deploy bundle: cannot deploy application "dex-auth": cannot add application "dex-auth": connection is shut down');
    expect(failed.message).toContain('failed with exit code 1:\n');
    expect(failed.message.endsWith('connection is shut down')).toBe(true);
    // Nothing was deployed.
    expect((await standInState()).applications ?? {}).toEqual({});
  });

  it('keeps only the last lines of a long stderr: the bundle without --trust', async () => {
    const bundle = await ckfBundle();
    const j = juju();
    const err = (await failure(j.run(j.deployBundleCommand(bundle, { trust: false, overlays: [] })))) as JujuCommandError;
    expect(err).toBeInstanceOf(JujuCommandError);
    expect(err.stderrTail).toHaveLength(10);
    expect(err.stderrTail.at(-1)).toBe('  - training-operator');
  });

  it('reports an unsupported command of the stand-in with its exit code 2', async () => {
    const j = juju();
    const err = (await failure(j.run(['add-model', 'x']))) as JujuCommandError;
    expect(err.exitCode).toBe(2);
    expect(err.stderrTail).toEqual(['stand-in: unsupported: juju add-model x']);
  });

  it('rejects with the abort reason when cancelled', async () => {
    const controller = new AbortController();
    const reason = new AirgapError('interrupted');
    controller.abort(reason);
    const j = new Juju({ jujuPath: STAND_IN, env: standInEnv(), signal: controller.signal });
    expect(await failure(j.version())).toBe(reason);
  });

  it('shows commands as a person would paste them', () => {
    expect(formatCommand(['juju', 'deploy', './x.charm', '--config', "a=it's [1, 2]", '--resource', 'oci-image=h:5000/p:1'])).toBe(
      "juju deploy ./x.charm --config 'a=it'\\''s [1, 2]' --resource oci-image=h:5000/p:1",
    );
  });
});

/** Trimmed from a Juju 3.4 Kubeflow model on microk8s: sidecar and PodSpec charms, relations as objects. */
const JUJU3_STATUS = JSON.stringify({
  model: { name: 'kubeflow', type: 'caas', controller: 'uk8s', cloud: 'microk8s', region: 'localhost', version: '3.4.0', 'model-status': { current: 'available', since: '02 Feb 2024 10:00:00Z' }, sla: 'unsupported' },
  machines: {},
  applications: {
    'istio-pilot': {
      charm: 'local:istio-pilot-0', base: { name: 'ubuntu', channel: '20.04' }, 'charm-origin': 'local', 'charm-name': 'istio-pilot', 'charm-rev': 0,
      scale: 1, 'provider-id': 'a1', address: '10.152.183.10', exposed: false,
      'application-status': { current: 'active', since: '02 Feb 2024 10:05:00Z' },
      relations: {
        ingress: [
          { 'related-application': 'dex-auth', interface: 'ingress', scope: 'global' },
          { 'related-application': 'jupyter-ui', interface: 'ingress', scope: 'global' },
        ],
        'istio-pilot': [{ 'related-application': 'istio-ingressgateway', interface: 'k8s-service', scope: 'global' }],
        peers: [{ 'related-application': 'istio-pilot', interface: 'istio_pilot_peers', scope: 'global' }],
      },
      units: {
        'istio-pilot/0': {
          'workload-status': { current: 'active', since: '02 Feb 2024 10:05:00Z' },
          'juju-status': { current: 'idle', since: '02 Feb 2024 10:05:01Z', version: '3.4.0' },
          leader: true, address: '10.1.0.20', 'provider-id': 'istio-pilot-0',
        },
      },
      'endpoint-bindings': { '': 'alpha', ingress: 'alpha' },
    },
    'istio-ingressgateway': {
      charm: 'local:istio-gateway-0', 'charm-origin': 'local', 'charm-name': 'istio-gateway', 'charm-rev': 0, exposed: false,
      'application-status': { current: 'waiting', message: 'Waiting for istio-pilot relation data', since: '02 Feb 2024 10:05:00Z' },
      relations: { 'istio-pilot': [{ 'related-application': 'istio-pilot', interface: 'k8s-service', scope: 'global' }] },
      units: {
        'istio-ingressgateway/0': {
          'workload-status': { current: 'waiting', message: 'Waiting for istio-pilot relation data' },
          'juju-status': { current: 'executing', message: 'running istio-pilot-relation-changed hook' },
        },
      },
    },
    'dex-auth': {
      charm: 'local:dex-auth-0', 'charm-origin': 'local', 'charm-name': 'dex-auth', 'charm-rev': 0, exposed: false,
      'application-status': { current: 'blocked', message: 'Missing relation: oidc-client' },
      relations: { ingress: [{ 'related-application': 'istio-pilot', interface: 'ingress', scope: 'global' }] },
      units: {
        'dex-auth/0': { 'workload-status': { current: 'blocked', message: 'Missing relation: oidc-client' }, 'juju-status': { current: 'idle' } },
      },
    },
    'jupyter-ui': {
      charm: 'local:jupyter-ui-0', 'charm-origin': 'local', 'charm-name': 'jupyter-ui', 'charm-rev': 0, exposed: false,
      'application-status': { current: 'error', message: 'hook failed: "install"' },
      relations: { ingress: [{ 'related-application': 'istio-pilot', interface: 'ingress', scope: 'global' }] },
      units: {
        'jupyter-ui/0': { 'workload-status': { current: 'error', message: 'hook failed: "install"' }, 'juju-status': { current: 'idle' } },
        'jupyter-ui/1': { 'workload-status': { current: 'active' }, 'juju-status': { current: 'idle' } },
      },
    },
    // PodSpec-era charm: an operator pod plus a workload pod, reported the same way.
    'argo-controller': {
      charm: 'local:argo-controller-0', 'charm-origin': 'local', 'charm-name': 'argo-controller', 'charm-rev': 0, exposed: false,
      'application-status': { current: 'active' },
      units: { 'argo-controller/0': { 'workload-status': { current: 'active' }, 'juju-status': { current: 'idle' }, 'open-ports': ['9090/TCP'] } },
    },
  },
  storage: {},
  controller: { timestamp: '10:06:00Z' },
});

describe('parseJujuStatus', () => {
  it('reads a Juju 3.x status: applications, units, charms and relations with both endpoints', () => {
    const state = parseJujuStatus(JUJU3_STATUS);
    expect(state.model).toBe('kubeflow');
    expect([...state.applications.keys()]).toEqual(['istio-pilot', 'istio-ingressgateway', 'dex-auth', 'jupyter-ui', 'argo-controller']);
    expect(state.applications.get('istio-ingressgateway')).toEqual({
      name: 'istio-ingressgateway',
      status: 'waiting',
      message: 'Waiting for istio-pilot relation data',
      charm: 'local:istio-gateway-0',
      units: [{ name: 'istio-ingressgateway/0', workload: 'waiting', workloadMessage: 'Waiting for istio-pilot relation data', agent: 'executing' }],
    });
    expect(state.relations).toEqual([
      { a: 'istio-pilot', aEndpoint: 'ingress', b: 'dex-auth', bEndpoint: 'ingress' },
      { a: 'istio-pilot', aEndpoint: 'ingress', b: 'jupyter-ui', bEndpoint: 'ingress' },
      { a: 'istio-pilot', aEndpoint: 'istio-pilot', b: 'istio-ingressgateway', bEndpoint: 'istio-pilot' },
      { a: 'istio-pilot', aEndpoint: 'peers', b: 'istio-pilot', bEndpoint: 'peers' },
    ]);
  });

  it('reads Juju 2.9 relations (endpoint -> application names), pairing halves only when unambiguous', () => {
    const state = parseJujuStatus(JSON.stringify({
      model: { name: 'kubeflow', type: 'caas', version: '2.9.45' },
      machines: {},
      applications: {
        'kfp-api': {
          charm: 'local:kubernetes/kfp-api-0', 'application-status': { current: 'active' },
          relations: { 'object-storage': ['minio'], 'relational-db': ['kfp-db'], 'kfp-api': ['kfp-persistence', 'kfp-ui'] },
          units: { 'kfp-api/0': { 'workload-status': { current: 'active' }, 'juju-status': { current: 'idle' } } },
        },
        minio: { charm: 'cs:minio-55', 'application-status': { current: 'active' }, relations: { 'object-storage': ['kfp-api', 'argo-controller'] } },
        // Two relations with the same application: which endpoint of the other side goes with which is unknown.
        'kfp-db': { charm: 'cs:mariadb-k8s-35', 'application-status': { current: 'active' }, relations: { mysql: ['kfp-api'] } },
        'kfp-ui': { charm: 'local:kfp-ui-0', 'application-status': { current: 'active' }, relations: { 'kfp-api': ['kfp-api'], 'kfp-ui': ['kfp-api'] } },
      },
    }));
    expect(state.model).toBe('kubeflow');
    expect(state.relations).toEqual([
      { a: 'kfp-api', aEndpoint: 'object-storage', b: 'minio', bEndpoint: 'object-storage' },
      { a: 'kfp-api', aEndpoint: 'relational-db', b: 'kfp-db', bEndpoint: 'mysql' },
      { a: 'kfp-api', aEndpoint: 'kfp-api', b: 'kfp-persistence', bEndpoint: undefined },
      { a: 'kfp-api', aEndpoint: 'kfp-api', b: 'kfp-ui', bEndpoint: undefined },
      { a: 'minio', aEndpoint: 'object-storage', b: 'argo-controller', bEndpoint: undefined },
      { a: 'kfp-ui', aEndpoint: 'kfp-api', b: 'kfp-api', bEndpoint: undefined },
      { a: 'kfp-ui', aEndpoint: 'kfp-ui', b: 'kfp-api', bEndpoint: undefined },
    ]);
    expect(hasRelation(state, 'kfp-api:object-storage', 'minio:object-storage')).toBe(true);
    expect(hasRelation(state, 'minio', 'argo-controller')).toBe(true);
    expect(hasRelation(state, 'kfp-ui:kfp-ui', 'kfp-api')).toBe(true);
  });

  it('puts subordinate units under their own application and reads status errors as unknown', () => {
    const state = parseJujuStatus(JSON.stringify({
      model: { name: 'm' },
      applications: {
        web: {
          'application-status': { current: 'active' },
          units: {
            'web/0': {
              'workload-status': { current: 'active' }, 'juju-status': { current: 'idle' },
              subordinates: { 'telegraf/0': { 'workload-status': { current: 'waiting', message: 'no output' }, 'juju-status': { current: 'idle' } } },
            },
            'web/1': { 'status-error': 'unit not found' },
          },
        },
        telegraf: { 'application-status': { current: 'waiting' }, 'subordinate-to': ['web'] },
        broken: { 'status-error': 'cannot get charm' },
      },
    }));
    expect(state.applications.get('telegraf')?.units).toEqual([{ name: 'telegraf/0', workload: 'waiting', workloadMessage: 'no output', agent: 'idle' }]);
    expect(state.applications.get('web')?.units[1]).toEqual({ name: 'web/1', workload: 'unknown', workloadMessage: 'unit not found', agent: 'unknown' });
    expect(state.applications.get('broken')).toMatchObject({ status: 'unknown', message: 'cannot get charm', units: [], charm: undefined });
  });

  it('reads an empty model', () => {
    expect(parseJujuStatus('{"model": {"name": "kubeflow"}, "machines": {}, "applications": {}}')).toEqual({ model: 'kubeflow', applications: new Map(), relations: [] });
  });

  it('names what is wrong with output that is not juju status', () => {
    expect(() => parseJujuStatus('')).toThrow('juju status --format=json did not print JSON (it printed nothing)');
    expect(() => parseJujuStatus('Model  Controller  Cloud/Region')).toThrow('did not print JSON: "Model  Controller  Cloud/Region"');
    expect(() => parseJujuStatus('[]')).toThrow('the output is not a JSON object');
    expect(() => parseJujuStatus('{"model": {}}')).toThrow('no "applications" object');
    expect(() => parseJujuStatus('{"applications": {"a": {"units": []}}}')).toThrow('applications.a.units is not an object');
    expect(() => parseJujuStatus('{"applications": {"a": {"relations": {"db": "b"}}}}')).toThrow('applications.a.relations.db is not a list');
    expect(() => parseJujuStatus('{"applications": {"a": {"relations": {"db": [{"interface": "x"}]}}}}')).toThrow('applications.a.relations.db[0] has no "related-application"');
    expect(() => parseJujuStatus('{"applications": {"a": {"application-status": {"current": 3}}}}')).toThrow('applications.a.application-status.current is not a string');
    const err = (() => {
      try {
        parseJujuStatus('nope');
      } catch (e: unknown) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(AirgapError);
    expect((err as AirgapError).hint).toBeDefined();
  });
});

describe('hasRelation, notReady, inError', () => {
  const state: ModelState = parseJujuStatus(JUJU3_STATUS);

  it('matches in either order, with or without endpoints', () => {
    expect(hasRelation(state, 'istio-pilot', 'dex-auth')).toBe(true);
    expect(hasRelation(state, 'dex-auth', 'istio-pilot')).toBe(true);
    expect(hasRelation(state, 'dex-auth:ingress', 'istio-pilot:ingress')).toBe(true);
    expect(hasRelation(state, 'istio-pilot:ingress', 'dex-auth')).toBe(true);
    expect(hasRelation(state, 'istio-pilot:gateway-info', 'dex-auth')).toBe(false);
    expect(hasRelation(state, 'istio-pilot:ingress', 'dex-auth:oidc-client')).toBe(false);
    expect(hasRelation(state, 'istio-ingressgateway:istio-pilot', 'istio-pilot:istio-pilot')).toBe(true);
    expect(hasRelation(state, 'dex-auth', 'jupyter-ui')).toBe(false);
    expect(hasRelation(state, 'argo-controller', 'minio')).toBe(false);
  });

  it('lists what is not active/idle, blocked and missing included', () => {
    expect(notReady(state, ['istio-pilot', 'istio-ingressgateway', 'dex-auth', 'jupyter-ui', 'argo-controller', 'minio'])).toEqual([
      { application: 'istio-ingressgateway', unit: 'istio-ingressgateway/0', status: 'waiting/executing', message: 'Waiting for istio-pilot relation data' },
      { application: 'dex-auth', unit: 'dex-auth/0', status: 'blocked/idle', message: 'Missing relation: oidc-client' },
      { application: 'jupyter-ui', unit: 'jupyter-ui/0', status: 'error/idle', message: 'hook failed: "install"' },
      { application: 'minio', unit: undefined, status: 'missing', message: 'not in the model' },
    ]);
    expect(notReady(state, ['istio-pilot', 'argo-controller'])).toEqual([]);
  });

  it('lists the application when its own status is what is wrong', () => {
    const appOnly = parseJujuStatus(JSON.stringify({
      applications: {
        a: { 'application-status': { current: 'blocked', message: 'set config x' }, units: { 'a/0': { 'workload-status': { current: 'active' }, 'juju-status': { current: 'idle' } } } },
        b: { 'application-status': { current: 'waiting', message: 'waiting for units' } },
        c: { 'application-status': { current: 'error', message: 'cannot create pod' } },
      },
    }));
    expect(notReady(appOnly, ['a', 'b'])).toEqual([
      { application: 'a', unit: undefined, status: 'blocked', message: 'set config x' },
      { application: 'b', unit: undefined, status: 'waiting', message: 'waiting for units' },
    ]);
    expect(inError(appOnly, ['a', 'b', 'c'])).toEqual([{ application: 'c', unit: undefined, status: 'error', message: 'cannot create pod' }]);
  });

  it('counts error (workload or agent) as an error, blocked not', () => {
    expect(inError(state, ['istio-ingressgateway', 'dex-auth', 'jupyter-ui', 'minio'])).toEqual([
      { application: 'jupyter-ui', unit: 'jupyter-ui/0', status: 'error/idle', message: 'hook failed: "install"' },
    ]);
    const agentError = parseJujuStatus(JSON.stringify({
      applications: { a: { 'application-status': { current: 'maintenance' }, units: { 'a/0': { 'workload-status': { current: 'maintenance', message: 'installing' }, 'juju-status': { current: 'error' } } } } },
    }));
    expect(inError(agentError, ['a'])).toEqual([{ application: 'a', unit: 'a/0', status: 'maintenance/error', message: 'installing' }]);
  });
});
