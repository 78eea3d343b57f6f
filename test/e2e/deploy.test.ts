import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap, type CliResult } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { useTempDir } from '../support/tmp.ts';

// The offline side end to end: collect the shipped demo release, load it into a TLS registry, then
// deploy with the stand-in juju (no Juju controller can run here; see test/stand-ins/README.md).
const ROOT = resolve(import.meta.dirname, '../..');
const STAND_INS = join(ROOT, 'test', 'stand-ins');
const PLACEHOLDER = '172.17.0.2:5000';

const tmp = useTempDir('airgap-deploy-');
let ca: CertificateAuthority;
let upstream: RunningRegistry;
let privateRegistry: RunningRegistry;
let pushed: PushedImage[];
/** Where the collect side's three files are, and where load unpacked the charms (flat). */
let carried: string;
let charms: string;
interface Juju {
  env: NodeJS.ProcessEnv;
  calls(): Promise<string[][]>;
}

async function standInJuju(mode: string, seed: object = { model: 'kubeflow' }, controllerConfig: object = { 'caas-image-repo': `${privateRegistry.host}/jujusolutions` }): Promise<Juju> {
  const dir = await tmp.files('juju', { 'state.json': JSON.stringify(seed) });
  const log = join(dir, 'log.jsonl');
  return {
    // No kubeconfig reachable: a real ~/.kube/config on the machine running the tests must never be touched.
    env: { PATH: `${STAND_INS}:${process.env['PATH'] ?? ''}`, JUJU_STANDIN_STATE: join(dir, 'state.json'), JUJU_STANDIN_LOG: log, JUJU_STANDIN_MODE: mode, JUJU_STANDIN_CONTROLLER_CONFIG: JSON.stringify(controllerConfig), HOME: dir, KUBECONFIG: '' },
    calls: async () => (existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : []),
  };
}

function deploy(args: string[], juju: Juju, registry = privateRegistry): Promise<CliResult> {
  return runAirgap(['deploy', join(charms, 'airgap.yaml'), '--registry', registry.host, '--ca-file', ca.caFile, '--charms-dir', charms, '--lock', join(carried, 'airgap-lock.json'), '--poll-interval', '100ms', ...args], { env: juju.env });
}

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  [upstream, privateRegistry] = await Promise.all([startRegistry(), startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } })]);
  pushed = await pushTestImages(upstream, demoImageSet());
  const release = join(tmp.path, 'release');
  await cp(join(ROOT, 'bundles', 'demo'), release, { recursive: true });
  const manifest = join(release, 'airgap.yaml');
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('127.0.0.1:5000', upstream.host));
  carried = join(tmp.path, 'carried');
  // Juju's own images would come from docker.io: these tests never leave loopback, whatever juju is installed.
  const collected = await runAirgap(['collect', manifest, '-o', carried, '--plain-http', upstream.host, '--no-juju-images']);
  if (collected.code !== 0) throw new Error(collected.stderr);
  charms = join(tmp.path, 'offline', 'charms');
  const loaded = await runAirgap(['load', carried, '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--charms-dir', charms]);
  if (loaded.code !== 0) throw new Error(loaded.stderr);
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), privateRegistry?.stop()]);
});

describe('airgap deploy', () => {
  it('--dry-run prints every rewrite and every Juju command, and changes nothing', async () => {
    const juju = await standInJuju('settle');
    const result = await deploy(['--dry-run'], juju);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`applications.app-a.resources.oci-image (line 9): ${PLACEHOLDER}/airgap-test/app-a:1.0 -> ${privateRegistry.host}/airgap-test/app-a:1.0`);
    expect(result.stdout).toContain(`charms[0].config.sidecar-image`);
    expect(result.stdout).toMatch(/would run: juju deploy \S+bundle\.airgap\.yaml --trust/);
    expect(result.stdout).toContain(`--resource oci-image=${privateRegistry.host}/airgap-test/docker-format:1.0`);
    expect(result.stdout).toContain('would run: juju relate demo-extra app-a');
    expect(await juju.calls()).toEqual([]);
    expect(existsSync(join(charms, 'bundle.airgap.yaml'))).toBe(false);
  });

  it('rewrites the bundle, proves the images, deploys bundle, charm and relation, and waits until active', async () => {
    const juju = await standInJuju('settle');
    const result = await deploy(['--timeout', '60s'], juju);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('all 2 applications are active');
    const calls = (await juju.calls()).filter((c) => c[0] !== 'status');
    expect(calls).toEqual([
      ['version'],
      ['controller-config', '--format=json'],
      ['deploy', join(charms, 'bundle.airgap.yaml'), '--trust'],
      ['deploy', join(charms, 'demo-extra_1.charm'), 'demo-extra', '--resource', `oci-image=${privateRegistry.host}/airgap-test/docker-format:1.0`, '--config', `sidecar-image=${privateRegistry.host}/airgap-test/app-c:latest`],
      ['relate', 'demo-extra', 'app-a'],
    ]);
    const original = await readFile(join(charms, 'bundle.yaml'), 'utf8');
    const rewritten = await readFile(join(charms, 'bundle.airgap.yaml'), 'utf8');
    expect(rewritten).not.toContain(PLACEHOLDER);
    expect(rewritten.split(privateRegistry.host).join(PLACEHOLDER)).toBe(original);
    // Every image named was checked in the registry first.
    for (const image of pushed.filter((p) => !p.repository.endsWith('multi'))) {
      expect(result.stdout).toContain(`present ${privateRegistry.host}/${image.repository}:${image.tag} ${image.digest}`);
    }

    const again = await deploy(['--timeout', '60s'], juju);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing to do');
    expect((await juju.calls()).filter((c) => c[0] === 'deploy' || c[0] === 'relate')).toHaveLength(3);
  });

  it('says when the controller does not take Juju\'s images from the private registry, and deploys all the same', async () => {
    const juju = await standInJuju('settle', { model: 'kubeflow' }, {});
    const result = await deploy(['--timeout', '60s'], juju);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('warning: caas-image-repo is not set: Juju pulls jujud-operator, juju-db and charm-base from Docker Hub');
    expect(result.stderr).toContain(`--config caas-image-repo=${privateRegistry.host}/jujusolutions`);
    const other = await standInJuju('settle', { model: 'kubeflow' }, { 'caas-image-repo': JSON.stringify({ repository: 'quay.io/juju', serveraddress: 'quay.io', username: 'u', password: 'not-for-output' }) });
    const second = await deploy(['--timeout', '60s'], other);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`warning: caas-image-repo is quay.io/juju, not ${privateRegistry.host}/jujusolutions`);
    expect(second.stdout + second.stderr).not.toContain('not-for-output');
  });

  it('passes --set through an overlay', async () => {
    const juju = await standInJuju('settle');
    const result = await deploy(['--set', 'app-a.log-level=debug', '--set', 'demo-extra.replicas=3'], juju);
    expect(result.code).toBe(0);
    const calls = await juju.calls();
    const bundleDeploy = calls.find((c) => c[0] === 'deploy' && c[1]?.endsWith('bundle.airgap.yaml'));
    const overlay = bundleDeploy?.[bundleDeploy.indexOf('--overlay') + 1];
    expect(overlay).toBeDefined();
    expect(await readFile(overlay ?? '', 'utf8')).toContain('log-level: debug');
    expect(calls.find((c) => c[2] === 'demo-extra')).toContain('replicas=3');
  });

  it('stops before Juju when an image is missing from the registry, naming it and where it is used', async () => {
    const empty = await startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
    try {
      const juju = await standInJuju('settle');
      const result = await deploy([], juju, empty);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${empty.host}/airgap-test/app-a:1.0 is missing (used at applications.app-a.resources.oci-image (line 9))`);
      expect(result.stderr).toContain('nothing was deployed');
      expect(await juju.calls()).toEqual([]);
    } finally {
      await empty.stop();
    }
  });

  it('reports a unit in error with its message', async () => {
    const juju = await standInJuju('error');
    const result = await deploy(['--timeout', '60s'], juju);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ImagePullBackOff');
    expect(result.stderr).toMatch(/app-a\/0|demo-extra\/0/);
  });

  it('names what is not ready when the model never settles', async () => {
    const juju = await standInJuju('never');
    const result = await deploy(['--timeout', '3s'], juju);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/not active after/);
    expect(result.stderr).toContain('app-a/0');
  });

  it('shows the stderr of a failing Juju command and what had been done before it', async () => {
    const juju = await standInJuju('fail-deploy');
    const result = await deploy([], juju);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERROR cannot deploy bundle');
    expect(result.stderr).toContain('nothing had been changed before it');
  });

  it('says when juju is not found', async () => {
    const juju = await standInJuju('settle');
    const result = await deploy(['--juju', join(tmp.path, 'no-such-juju')], juju);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/juju not found/);
  });
});

describe('airgap deploy refuses bad input', () => {
  async function release(name: string, files: Record<string, string>): Promise<string> {
    const dir = join(tmp.path, `bad-${name}`);
    await mkdir(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
    return dir;
  }

  it('a relation naming an unknown application', async () => {
    const dir = await release('relation', {
      'airgap.yaml': `name: x\nplaceholder: ${PLACEHOLDER}\nbundle: bundle.yaml\nrelations:\n  - [app-a, minio]\n`,
      'bundle.yaml': `applications:\n  app-a:\n    charm: ./app-a_1.charm\n    resources: { oci-image: ${PLACEHOLDER}/airgap-test/app-a:1.0 }\n`,
      'app-a_1.charm': 'PK',
    });
    const juju = await standInJuju('settle');
    const result = await runAirgap(['deploy', join(dir, 'airgap.yaml'), '--registry', privateRegistry.host, '--ca-file', ca.caFile], { env: juju.env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('minio');
    expect(result.stderr).toContain('neither in the bundle nor among the extra charms');
    expect((await juju.calls()).filter((c) => c[0] === 'deploy')).toEqual([]);
  });

  // A Kubernetes manifest given directly is deployed (test/e2e/kube-deploy.test.ts); an image list is not.
  it('an image list given as the bundle: says there is nothing to deploy', async () => {
    const dir = await release('list', { 'images.txt': `${PLACEHOLDER}/a:1\n` });
    const result = await runAirgap(['deploy', join(dir, 'images.txt'), '--registry', privateRegistry.host]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('an image list: there is nothing to deploy');
  });

  it('a --poll-interval that is not a duration, or so short that juju status would run back to back', async () => {
    const juju = await standInJuju('settle');
    for (const [value, message] of [['soon', '--poll-interval soon: expected a duration like 30m, 1h30m or 90s'], ['10ms', '--poll-interval 10ms: expected 100ms or more']] as const) {
      const result = await deploy(['--poll-interval', value], juju);
      expect(result.code, value).toBe(2);
      expect(result.stderr.trim(), value).toBe(`error: ${message}`);
    }
    expect(await juju.calls()).toEqual([]);
  });

  it('no placeholder given or found', async () => {
    const dir = await release('placeholder', { 'bundle.yaml': `applications:\n  a:\n    charm: ./a.charm\n    resources: { oci-image: 10.0.0.1:5000/a:1 }\n` });
    const result = await runAirgap(['deploy', join(dir, 'bundle.yaml'), '--registry', privateRegistry.host], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--placeholder');
  });

  it('a charm whose sha256 differs from the lock', async () => {
    const dir = join(tmp.path, 'tampered');
    await cp(charms, dir, { recursive: true });
    await writeFile(join(dir, 'demo-extra_1.charm'), 'PK tampered');
    const juju = await standInJuju('settle');
    const result = await runAirgap(['deploy', join(dir, 'airgap.yaml'), '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--charms-dir', dir, '--lock', join(carried, 'airgap-lock.json')], { env: juju.env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('demo-extra_1.charm');
    expect(result.stderr).toContain('the lock says');
  });

  it('--strict refuses a reference the cluster cannot pull', async () => {
    const dir = await release('strict', {
      'bundle.yaml': `applications:\n  a:\n    charm: ./a.charm\n    options:\n      helper: "quay.io/some/helper:1.0"\n    resources: { oci-image: ${PLACEHOLDER}/airgap-test/app-a:1.0 }\n`,
      'a.charm': 'PK',
    });
    const result = await runAirgap(['deploy', join(dir, 'bundle.yaml'), '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--placeholder', PLACEHOLDER, '--strict', '--dry-run']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('quay.io/some/helper:1.0 at applications.a.options.helper');
  });
});
