import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { request, Agent } from 'undici';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap, type CliResult } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, makeUntrustedCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { REGISTRY_BINARY, startRegistry, type RunningRegistry } from '../support/registry.ts';
import { freePort, startManagedProcess, type ManagedProcess } from '../support/process.ts';
import { sleep } from '../../src/util/sleep.ts';
import { useTempDir } from '../support/tmp.ts';
import { startStandInKubeApiServer, type StandInKubeApiServer } from '../stand-ins/kube-apiserver.ts';

// `airgap check` through the built CLI: real docker-registry servers (TLS with htpasswd, plain HTTP), a
// CA nothing trusts, the stand-in juju, and two stand-in API servers, one healthy, one not
// (test/stand-ins/README.md).
const ROOT = resolve(import.meta.dirname, '../..');
const JUJU = join(ROOT, 'test', 'stand-ins', 'juju');
const USER = 'checker';
const PASSWORD = 'check-pa55';

const tmp = useTempDir('airgap-check-');
let ca: CertificateAuthority;
let untrusted: CertificateAuthority;
let secure: RunningRegistry;
let plain: RunningRegistry;
let healthy: StandInKubeApiServer;
let broken: StandInKubeApiServer;
let home: string;
let jujuState: string;

/**
 * A docker-registry with deletes disabled (its default; test/support/registry.ts enables them), plain HTTP:
 * the push check must then say it left its test blob.
 */
async function startNoDeleteRegistry(dir: string): Promise<{ host: string; process: ManagedProcess }> {
  await mkdir(join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${JSON.stringify(join(dir, 'storage'))}\n  delete:\n    enabled: false\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  const child = startManagedProcess(REGISTRY_BINARY, ['serve', config], { cwd: dir, env });
  for (let i = 0; i < 200; i++) {
    try {
      const res = await request(`http://127.0.0.1:${port}/v2/`);
      await res.body.dump();
      if (res.statusCode === 200) return { host: `127.0.0.1:${port}`, process: child };
    } catch {
      // Not up yet.
    }
    await sleep(50);
  }
  await child.stop();
  throw new Error(`docker-registry without deletes did not start:\n${child.logs()}`);
}

function check(args: string[], options: { password?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return runAirgap(['check', ...args], {
    // This machine's kubeconfig, docker credentials and juju stay out of it.
    env: { HOME: home, KUBECONFIG: '', DOCKER_CONFIG: join(home, '.docker'), JUJU_STANDIN_STATE: jujuState, ...options.env },
    ...(options.password === undefined ? {} : { input: `${options.password}\n` }),
  });
}

/** The line for `section what`, e.g. line(out, 'registry', 'certificate trusted'). */
function line(result: CliResult, section: string, what: string): string {
  return result.stdout.split('\n').find((l) => new RegExp(`^\\S+\\s+${section}\\s+${what}\\s`).test(l)) ?? `(no ${section} ${what} line in:\n${result.stdout}${result.stderr})`;
}

beforeAll(async () => {
  home = join(tmp.path, 'home');
  await mkdir(join(home, '.docker'), { recursive: true });
  jujuState = join(tmp.path, 'juju-state.json');
  await writeFile(jujuState, JSON.stringify({ model: 'kubeflow' }));
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  untrusted = await makeUntrustedCertificateAuthority(tmp.path);
  const kubeDirs = [join(tmp.path, 'healthy'), join(tmp.path, 'broken')];
  await Promise.all(kubeDirs.map((d) => mkdir(d)));
  [secure, plain, healthy, broken] = await Promise.all([
    startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile }, htpasswd: { username: USER, password: PASSWORD } }),
    startRegistry(),
    startStandInKubeApiServer({
      dir: kubeDirs[0] ?? '', contextNamespace: 'shop', namespaces: ['shop'],
      nodes: [{ name: 'gpu-1', gpus: 2, labels: { 'nvidia.com/gpu.product': 'Tesla-T4', 'nvidia.com/gpu.present': 'true' } }, { name: 'cpu-1' }],
    }),
    startStandInKubeApiServer({
      dir: kubeDirs[1] ?? '', version: 'v1.19.16',
      nodes: [{ name: 'node-1' }, { name: 'node-2', ready: false, message: 'PLEG is not healthy' }],
      corefile: '.:53 {\n    errors\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . 8.8.8.8 1.1.1.1\n    cache 30\n}\n',
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([secure?.stop(), plain?.stop(), healthy?.stop(), broken?.stop()]);
});

describe('airgap check', () => {
  it('all ok: registry, juju, cluster with GPUs, CoreDNS', async () => {
    const result = await check(['--registry', secure.host, '--ca-file', ca.caFile, '--username', USER, '--password-stdin', '--juju', JUJU, '-m', 'kubeflow', '--kubeconfig', healthy.kubeconfig, '--gpus'], {
      password: PASSWORD,
      env: { JUJU_STANDIN_CONTROLLER_CONFIG: JSON.stringify({ 'caas-image-repo': JSON.stringify({ repository: `${secure.host}/jujusolutions`, serveraddress: secure.host, username: USER, password: PASSWORD }) }) },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(line(result, 'registry', 'DNS')).toMatch(/^ok .*127\.0\.0\.1 is an address/);
    expect(line(result, 'registry', 'answers HTTPS')).toMatch(/^ok .*answers TLS \(TLSv1\.[23]\)/);
    expect(line(result, 'registry', 'certificate trusted')).toMatch(new RegExp(`^ok .*issued by CN=airgap test CA \\w+, trusted through ${ca.caFile}`));
    expect(line(result, 'registry', 'credentials')).toMatch(/^ok .*accepted: user checker \(--username\)/);
    expect(line(result, 'registry', 'push')).toMatch(/^ok .*allowed: a 1-byte test blob was uploaded to airgap-check and deleted/);
    expect(line(result, 'juju', 'juju found')).toMatch(/^ok .*3\.4\.0-genericlinux-amd64/);
    expect(line(result, 'juju', 'controller reachable')).toMatch(/^ok .*controller stand-in \(cloud microk8s\)/);
    expect(line(result, 'juju', 'model')).toMatch(/^ok .*model kubeflow \(caas, 0 applications\)/);
    expect(line(result, 'juju', 'caas-image-repo')).toMatch(new RegExp(`^ok .*caas-image-repo is ${secure.host}/jujusolutions: Juju's images come from the private registry`));
    expect(line(result, 'kubernetes', 'kubeconfig')).toMatch(new RegExp(`^ok .*context stand-in \\(${healthy.url}\\)`));
    expect(line(result, 'kubernetes', 'server version')).toMatch(/^ok .*v1\.29\.2/);
    expect(line(result, 'kubernetes', 'namespace')).toMatch(/^ok .*shop exists \(from the context\)/);
    expect(line(result, 'kubernetes', 'nodes Ready')).toMatch(/^ok .*2 of 2 nodes Ready/);
    expect(line(result, 'kubernetes', 'GPUs')).toMatch(/^ok .*2 nvidia\.com\/gpu allocatable on gpu-1 \(2\)/);
    expect(line(result, 'kubernetes', 'GPU node labels')).toMatch(/^ok .*gpu-1 \(nvidia\.com\/gpu\.present=true, nvidia\.com\/gpu\.product=Tesla-T4\)/);
    expect(line(result, 'dns', 'CoreDNS forward')).toMatch(/^ok .*10\.0\.0\.2 \(private addresses\)/);
    expect(result.stdout).toMatch(/0 failed, 0 warning\(s\), 16 ok, 0 skipped/);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);

    // The test blob is gone again.
    const dispatcher = new Agent({ connect: { ca: await readFile(ca.caFile, 'utf8') } });
    try {
      const res = await request(`${secure.url}/v2/airgap-check/blobs/sha256:01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b`, {
        method: 'HEAD', dispatcher, headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
      });
      await res.body.dump();
      expect(res.statusCode).toBe(404);
    } finally {
      await dispatcher.close();
    }
  });

  it('an untrusted certificate: says who issued it and how to trust it, and checks nothing past it', async () => {
    const none = await check(['--registry', secure.host]);
    expect(none.code).toBe(1);
    expect(line(none, 'registry', 'answers HTTPS')).toMatch(/^ok /);
    const trust = line(none, 'registry', 'certificate trusted');
    expect(trust).toMatch(/^fail .*issued by CN=airgap test CA \w+\) is signed by no CA trusted here \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    expect(trust).toContain(`fix: pass --ca-file CA.pem, or put the CA in /etc/docker/certs.d/${secure.host}/ca.crt`);
    expect(line(none, 'registry', 'credentials')).toMatch(/^skip /);
    expect(none.stderr).toContain('error: 1 check(s) failed: registry certificate trusted');

    const wrongCa = await check(['--registry', secure.host, '--ca-file', untrusted.caFile]);
    expect(wrongCa.code).toBe(1);
    expect(line(wrongCa, 'registry', 'certificate trusted')).toMatch(/^fail .*signed by no CA trusted here/);
  });

  it('wrong or missing credentials', async () => {
    const wrong = await check(['--registry', secure.host, '--ca-file', ca.caFile, '--username', USER, '--password-stdin'], { password: 'not-it' });
    expect(wrong.code).toBe(1);
    expect(line(wrong, 'registry', 'credentials')).toMatch(new RegExp(`^fail .*${secure.host} refused user checker \\(--username\\); fix: check the user and password`));
    expect(line(wrong, 'registry', 'push')).toMatch(/^skip /);
    expect(wrong.stdout + wrong.stderr).not.toContain('not-it');

    const missing = await check(['--registry', secure.host, '--ca-file', ca.caFile]);
    expect(missing.code).toBe(1);
    expect(line(missing, 'registry', 'credentials')).toMatch(/^fail .*asks for credentials and none were given or found in ~\/\.docker\/config\.json; fix: pass --username USER --password-stdin/);
  });

  it('a plain-HTTP registry: fine with --plain-http, named as plain HTTP without it', async () => {
    const ok = await check(['--registry', plain.host, '--plain-http', plain.host]);
    expect(line(ok, 'registry', 'answers HTTP')).toMatch(/^ok .*plain HTTP \(--plain-http\)/);
    expect(line(ok, 'registry', 'credentials')).toMatch(/^ok .*asks for none \(anonymous access\)/);
    expect(line(ok, 'registry', 'push')).toMatch(/^ok .*allowed/);

    const notTls = await check(['--registry', plain.host]);
    expect(notTls.code).toBe(1);
    expect(line(notTls, 'registry', 'answers HTTPS')).toMatch(new RegExp(`^fail .*it looks like plain HTTP\\); fix: if ${plain.host} is a plain-HTTP registry, pass --plain-http ${plain.host}`));
  });

  it('a registry with deletes disabled: push allowed, the 1-byte test blob left behind', async () => {
    const dir = join(tmp.path, 'no-delete');
    await mkdir(dir);
    const registry = await startNoDeleteRegistry(dir);
    try {
      const result = await check(['--registry', registry.host, '--plain-http', registry.host]);
      expect(result.code).toBe(0);
      expect(line(result, 'registry', 'push')).toMatch(/^warn .*allowed, but the 1-byte test blob sha256:01ba4719\S+ was left in airgap-check: the registry has deletes disabled/);
    } finally {
      await registry.process.stop();
    }
  });

  it('a name that does not resolve, and a port nothing listens on', async () => {
    const dns = await check(['--registry', 'no-such-registry.invalid:5000']);
    expect(dns.code).toBe(1);
    expect(line(dns, 'registry', 'DNS')).toMatch(/^fail .*no-such-registry\.invalid does not resolve \(ENOTFOUND\); fix: add no-such-registry\.invalid to the site DNS or to \/etc\/hosts/);
    const closed = await check(['--registry', '127.0.0.1:1']);
    expect(line(closed, 'registry', 'answers HTTPS')).toMatch(/^fail .*nothing answers on 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });

  it('an old server, a node not Ready, no GPUs, CoreDNS forwarding to 8.8.8.8', async () => {
    const result = await check(['--kubeconfig', broken.kubeconfig, '--gpus'], { env: { HOME: home } });
    expect(result.code).toBe(1);
    expect(line(result, 'registry', 'registry')).toMatch(/^skip .*no --registry given/);
    expect(line(result, 'juju', 'juju found')).toMatch(/^warn .*juju not found/);
    expect(line(result, 'kubernetes', 'server version')).toMatch(/^fail .*v1\.19\.16: airgap needs Kubernetes 1\.20 or later/);
    expect(line(result, 'kubernetes', 'namespace')).toMatch(/^ok .*default exists \(the default\)/);
    expect(line(result, 'kubernetes', 'nodes Ready')).toMatch(/^warn .*1 of 2 nodes Ready; not Ready: node-2 \(KubeletNotReady: PLEG is not healthy\)/);
    expect(line(result, 'kubernetes', 'GPUs')).toMatch(/^fail .*no Ready node offers nvidia\.com\/gpu; fix: install the NVIDIA GPU operator/);
    expect(line(result, 'kubernetes', 'GPU node labels')).toMatch(/^warn .*no node carries a GPU label/);
    const dns = line(result, 'dns', 'CoreDNS forward');
    expect(dns).toMatch(/^warn .*CoreDNS forwards outside names to 8\.8\.8\.8, 1\.1\.1\.1, a public resolver an air gap cannot reach/);
    expect(dns).toMatch(/fix: MicroK8s: microk8s disable dns && microk8s enable dns:\S+/);
    expect(result.stderr).toContain('error: 2 check(s) failed: kubernetes server version, kubernetes GPUs');
  });

  it('juju: a model that does not exist; another context and a missing namespace', async () => {
    const result = await check(['--juju', JUJU, '-m', 'elsewhere', '--kubeconfig', healthy.kubeconfig, '--context', 'other', '-n', 'missing']);
    expect(result.code).toBe(1);
    expect(line(result, 'juju', 'controller reachable')).toMatch(/^ok /);
    expect(line(result, 'juju', 'model')).toMatch(/^fail .*model elsewhere not found.*fix: create it with juju add-model elsewhere/);
    expect(line(result, 'kubernetes', 'kubeconfig')).toMatch(/^ok .*context other/);
    expect(line(result, 'kubernetes', 'namespace')).toMatch(/^warn .*missing does not exist; fix: create it \(kubectl create namespace missing\)/);

    const noContext = await check(['--kubeconfig', healthy.kubeconfig, '--context', 'nope']);
    expect(line(noContext, 'kubernetes', 'kubeconfig')).toMatch(/^fail .*--context nope: no such context in .*its contexts: stand-in, other/);
  });

  it('--json', async () => {
    const result = await check(['--registry', plain.host, '--plain-http', plain.host, '--kubeconfig', healthy.kubeconfig, '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { results: { section: string; status: string; what: string; detail: string; fix?: string }[]; failed: number; warned: number };
    expect(report.failed).toBe(0);
    expect(report.results.find((r) => r.section === 'registry' && r.what === 'push')?.status).toBe('ok');
    expect(report.results.find((r) => r.section === 'juju')).toMatchObject({ status: 'warn', what: 'juju found' });
    expect(report.results.find((r) => r.section === 'kubernetes' && r.what === 'server version')).toMatchObject({ status: 'ok', detail: 'v1.29.2 (1.20 or later)' });
  });
});
