import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap, type CliResult } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { demoImageSet, pushTestImages } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { useTempDir } from '../support/tmp.ts';
import { startStandInKubeApiServer, type PodBehaviour, type StandInKubeApiServer } from '../stand-ins/kube-apiserver.ts';

// The Kubernetes part of airgap deploy end to end: the demo release collected and loaded into a TLS
// registry with htpasswd (real docker-registry), its k8s/web.yaml applied to the stand-in API server
// (no Kubernetes can run here; see test/stand-ins/README.md) through the built CLI.
const ROOT = resolve(import.meta.dirname, '../..');
const STAND_INS = join(ROOT, 'test', 'stand-ins');
const USER = 'deployer';
const PASSWORD = 's3cret-pa55';
const APP_B = 'airgap-test/team/app-b:v2.1.0';

const tmp = useTempDir('airgap-kube-deploy-');
let ca: CertificateAuthority;
let upstream: RunningRegistry;
let registry: RunningRegistry;
let carried: string;
let charms: string;
let home: string;
let api: StandInKubeApiServer;
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // Nothing of this machine's own kubeconfig or docker credentials may leak in.
  return { HOME: home, KUBECONFIG: '', DOCKER_CONFIG: join(home, '.docker'), ...extra };
}

function deployManifest(args: string[], options: { kubeconfig?: string; password?: boolean } = {}): Promise<CliResult> {
  return runAirgap([
    'deploy', join(charms, 'web.yaml'), '--registry', registry.host, '--ca-file', ca.caFile, '--lock', join(carried, 'airgap-lock.json'), '--poll-interval', '100ms',
    ...(options.password === false ? [] : ['--username', USER, '--password-stdin']),
    ...(options.kubeconfig === undefined ? ['--kubeconfig', api.kubeconfig] : options.kubeconfig === '' ? [] : ['--kubeconfig', options.kubeconfig]),
    ...args,
  ], { env: env(), input: `${PASSWORD}\n` });
}

async function freshApi(podBehaviour?: (image: string) => PodBehaviour): Promise<StandInKubeApiServer> {
  await api?.stop();
  const dir = await tmp.dir('kube');
  api = await startStandInKubeApiServer({ dir, stepMs: 50, namespaces: ['other', 'kubeflow'], ...(podBehaviour === undefined ? {} : { podBehaviour }) });
  return api;
}

beforeAll(async () => {
  home = join(tmp.path, 'home');
  await mkdir(join(home, '.docker'), { recursive: true });
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  [upstream, registry] = await Promise.all([
    startRegistry(),
    startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile }, htpasswd: { username: USER, password: PASSWORD } }),
  ]);
  // As after `docker login`: the registry proof finds these when --username is not given (and then no pull secret is made).
  await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
  await pushTestImages(upstream, demoImageSet(0.25));
  const release = join(tmp.path, 'release');
  await cp(join(ROOT, 'bundles', 'demo'), release, { recursive: true });
  const manifest = join(release, 'airgap.yaml');
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('127.0.0.1:5000', upstream.host));
  carried = join(tmp.path, 'carried');
  // Juju's own images would come from docker.io: these tests never leave loopback, whatever juju is installed.
  const collected = await runAirgap(['collect', manifest, '-o', carried, '--plain-http', upstream.host, '--no-juju-images'], { env: env() });
  if (collected.code !== 0) throw new Error(collected.stderr);
  charms = join(tmp.path, 'offline', 'charms');
  const loaded = await runAirgap(['load', carried, '--registry', registry.host, '--ca-file', ca.caFile, '--charms-dir', charms, '--username', USER, '--password-stdin'], { env: env(), input: `${PASSWORD}\n` });
  if (loaded.code !== 0) throw new Error(loaded.stderr);
  await freshApi();
});

afterAll(async () => {
  await api?.stop();
  await Promise.all([upstream?.stop(), registry?.stop()]);
});

interface AppliedDeployment {
  metadata: { name: string; namespace: string };
  spec: { template: { spec: { imagePullSecrets?: { name: string }[]; containers: { image: string; env?: { name: string; value: string }[] }[] } } };
}

describe('airgap deploy of a Kubernetes manifest', () => {
  it('rewrites it, proves its image, creates the pull secret, sets the proxy, applies it and waits for the rollout', async () => {
    await freshApi();
    const result = await deployManifest(['--proxy', 'http://proxy.corp:3128', '--no-proxy', '.corp,10.0.0.0/8', '--timeout', '30s']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`spec.template.spec.containers[0].image (line 15): 172.17.0.2:5000/${APP_B} -> ${registry.host}/${APP_B}`);
    expect(result.stdout).toMatch(new RegExp(`present ${registry.host}/${APP_B} sha256:`));
    expect(result.stdout).toContain('applied: Secret default/airgap-registry');
    expect(result.stdout).toContain('applied: Deployment default/web');
    expect(result.stdout).toContain('deployment "web" successfully rolled out');
    expect(result.stdout).toContain('Applied 2 Kubernetes objects with context stand-in');
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);

    const applies = api.applies();
    expect(applies.map((r) => r.path)).toEqual(['/api/v1/namespaces/default/secrets/airgap-registry', '/apis/apps/v1/namespaces/default/deployments/web']);
    expect(applies.every((r) => r.query['fieldManager'] === 'airgap' && r.query['force'] === 'true' && r.authorized)).toBe(true);

    const secret = applies[0]?.body as { type: string; data: Record<string, string> };
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    const auths = JSON.parse(Buffer.from(secret.data['.dockerconfigjson'] ?? '', 'base64').toString('utf8')) as { auths: Record<string, { username: string; password: string; auth: string }> };
    expect(auths.auths[registry.host]).toEqual({ username: USER, password: PASSWORD, auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') });

    const deployment = applies[1]?.body as AppliedDeployment;
    const pod = deployment.spec.template.spec;
    expect(pod.imagePullSecrets).toEqual([{ name: 'airgap-registry' }]);
    expect(pod.containers[0]?.image).toBe(`${registry.host}/${APP_B}`);
    expect(pod.containers[0]?.env).toEqual([
      { name: 'HTTP_PROXY', value: 'http://proxy.corp:3128' }, { name: 'http_proxy', value: 'http://proxy.corp:3128' },
      { name: 'HTTPS_PROXY', value: 'http://proxy.corp:3128' }, { name: 'https_proxy', value: 'http://proxy.corp:3128' },
      { name: 'NO_PROXY', value: '.corp,10.0.0.0/8' }, { name: 'no_proxy', value: '.corp,10.0.0.0/8' },
    ]);
    // The manifest on disk is never changed: the rewrite lives in what was sent.
    expect(await readFile(join(charms, 'web.yaml'), 'utf8')).toContain(`172.17.0.2:5000/${APP_B}`);
  });

  it('--dry-run prints what it would apply and sends nothing', async () => {
    await freshApi();
    const result = await deployManifest(['--dry-run', '-n', 'other']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('would apply: Secret other/airgap-registry');
    expect(result.stdout).toContain('would apply: Deployment other/web');
    expect(result.stdout).toContain('imagePullSecrets airgap-registry added to 1 workload(s): Deployment other/web');
    expect(result.stdout).toContain('Dry run:');
    expect(api.requests).toEqual([]);
  });

  it('reports ImagePullBackOff at once with the image and the kubelet message, and fails naming it at the timeout', async () => {
    const message = `failed to pull and unpack image "${registry.host}/${APP_B}": failed to resolve reference: tls: failed to verify certificate: x509: certificate signed by unknown authority`;
    await freshApi((image) => (image.endsWith(APP_B) ? { phase: 'pull-error', message } : { phase: 'running' }));
    const result = await deployManifest(['--context', 'other', '--timeout', '3s'], { password: false });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`warning: pod other/web-\\S+ container web cannot pull ${registry.host.replace(/\./g, '\\.')}/airgap-test/team/app-b:v2\\.1\\.0: ErrImagePull: failed to pull and unpack image`));
    expect(result.stderr).toContain('/etc/containerd/certs.d/');
    const last = result.stderr.trim().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^error: 1 container\(s\) cannot pull their image: pod other\/web-\S+ container web cannot pull .*x509: certificate signed by unknown authority; not rolled out after 3s: Deployment other\/web/);
    // Without --username no pull secret is made or referenced.
    expect(api.applies().map((r) => r.path)).toEqual(['/apis/apps/v1/namespaces/other/deployments/web']);
  });

  it('waits for the rollout and names what did not finish', async () => {
    await freshApi(() => ({ phase: 'pending' }));
    const result = await deployManifest(['--timeout', '2s']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('not rolled out after 2s: Deployment default/web (Waiting for deployment "web" rollout to finish: 0 of 1 updated replicas are available...)');
  });

  it('turns LoadBalancers into NodePorts, or marks them internal, in a manifest with a Namespace', async () => {
    await freshApi();
    const dir = join(tmp.path, 'lb');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'gateway.yaml');
    await writeFile(file, [
      'apiVersion: v1\nkind: Service\nmetadata: { name: gateway, namespace: edge }\nspec: { type: LoadBalancer, loadBalancerIP: 10.1.1.1, ports: [{ port: 443 }] }',
      'apiVersion: v1\nkind: Namespace\nmetadata: { name: edge }',
    ].join('\n---\n'));
    const run = (args: string[]): Promise<CliResult> =>
      runAirgap(['deploy', file, '--registry', registry.host, '--ca-file', ca.caFile, '--placeholder', '172.17.0.2:5000', '--kubeconfig', api.kubeconfig, '--poll-interval', '100ms', ...args], { env: env() });
    const nodePort = await run(['--service-type', 'NodePort']);
    expect(nodePort.stderr).toBe('');
    expect(nodePort.code).toBe(0);
    expect(nodePort.stdout).toContain('Service edge/gateway: LoadBalancer -> NodePort (dropped loadBalancerIP, which only a LoadBalancer takes)');
    expect(api.applies().map((r) => r.path)).toEqual(['/api/v1/namespaces/edge', '/api/v1/namespaces/edge/services/gateway']);
    expect(api.get('v1', 'Service', 'edge', 'gateway')?.['spec']).toEqual({ type: 'NodePort', ports: [{ port: 443 }] });

    const internal = await run(['--internal-services', 'azure']);
    expect(internal.code).toBe(0);
    expect((api.get('v1', 'Service', 'edge', 'gateway')?.['metadata'] as { annotations?: unknown }).annotations).toEqual({ 'service.beta.kubernetes.io/azure-load-balancer-internal': 'true' });
  });

  it('fails with the reason when there is no kubeconfig', async () => {
    const result = await deployManifest([], { kubeconfig: '', password: false });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no kubeconfig: KUBECONFIG is not set');
    expect(result.stderr).toContain('--kubeconfig');
  });

  it('an image list is still refused: there is nothing to deploy', async () => {
    const list = join(tmp.path, 'images.txt');
    await writeFile(list, '172.17.0.2:5000/a:1\n');
    const result = await runAirgap(['deploy', list, '--registry', registry.host], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('an image list: there is nothing to deploy');
  });
});

describe('airgap deploy of airgap.yaml: Juju first, then the manifests', () => {
  it('applies the manifests after the Juju part, watching the model\'s pods meanwhile', async () => {
    await freshApi((image) => (image.includes('broken') ? { phase: 'pull-error', message: 'rpc error: code = NotFound desc = failed to pull: not found' } : { phase: 'running' }));
    api.addPod('kubeflow', 'app-a-0', [{ name: 'charm', image: `${registry.host}/broken:1` }]);
    const jujuDir = join(tmp.path, 'juju');
    await mkdir(jujuDir, { recursive: true });
    await writeFile(join(jujuDir, 'state.json'), JSON.stringify({ model: 'kubeflow' }));
    // The model stays unsettled until the pull failure has been reported: it is seen while Juju is waited for.
    const hold = join(jujuDir, 'hold');
    await writeFile(hold, '');
    // The kubelet's own reason: the watch may first catch the pod in a bare back-off, then tells the reason.
    const pullFailure = `warning: pod kubeflow/app-a-0 container charm cannot pull ${registry.host}/broken:1: ErrImagePull: rpc error: code = NotFound`;
    const result = await runAirgap([
      'deploy', join(charms, 'airgap.yaml'), '--registry', registry.host, '--ca-file', ca.caFile, '--charms-dir', charms, '--lock', join(carried, 'airgap-lock.json'),
      '--username', USER, '--password-stdin', '--timeout', '60s', '--poll-interval', '100ms',
    ], {
      env: env({ PATH: `${STAND_INS}:${process.env['PATH'] ?? ''}`, JUJU_STANDIN_STATE: join(jujuDir, 'state.json'), JUJU_STANDIN_MODE: 'settle', JUJU_STANDIN_HOLD: hold, KUBECONFIG: api.kubeconfig }),
      input: `${PASSWORD}\n`,
      onStderr: (stderr) => {
        if (stderr.includes(pullFailure)) rmSync(hold, { force: true });
      },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('all 2 applications are active');
    expect(result.stderr).toContain(pullFailure);
    expect(result.stderr).toContain('airgap load');
    const order = result.stdout.split('\n');
    const jujuDone = order.findIndex((l) => l.includes('every application is active'));
    const applied = order.findIndex((l) => l.includes('applied: Deployment default/web'));
    expect(jujuDone).toBeGreaterThan(-1);
    expect(applied).toBeGreaterThan(jujuDone);
    expect(existsSync(join(charms, 'bundle.airgap.yaml'))).toBe(true);
  });
});
