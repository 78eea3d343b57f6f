import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIRGAP_BIN } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, makeUntrustedCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { buildOciLayout, type BuiltImage } from '../support/images.ts';
import { CommandError, run, startManagedProcess, type ManagedProcess } from '../support/process.ts';
import { sleep } from '../../src/util/sleep.ts';
import { useTempDir } from '../support/tmp.ts';

// The rendered hosts.toml proven by real containerd (Debian's), in a network namespace of this test's own with
// only loopback up: `airgap serve` answers there over HTTPS with the rendered CA, and containerd's fallback to
// the public host (registry-1.docker.io) has no network to reach, so a docker.io/... pull that succeeds went
// through the mirror entry. containerd runs on a private socket and root with its CRI plugin off.
const PORT = 5443;
const REGISTRY = `127.0.0.1:${PORT}`;
const PREFIX = 'mirror';
const CTR_TIMEOUT_MS = 120_000;

const tmp = useTempDir('airgap-ctrd-');
let ca: CertificateAuthority;
let images: BuiltImage[];
let netns: ManagedProcess;
let serve: ManagedProcess;
let containerd: ManagedProcess;
let socket: string;

/** Runs `file` inside the test's network namespace. */
function inNetns(file: string, args: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=/proc/${netns.pid}/ns/net`, '--', file, ...args]];
}

async function ctr(args: readonly string[]): Promise<string> {
  const [file, argv] = inNetns('ctr', ['--address', socket, '--namespace', 'airgap-test', ...args]);
  return (await run(file, argv, { timeoutMs: CTR_TIMEOUT_MS })).stdout.toString('utf8');
}

async function waitFor(what: string, done: () => Promise<boolean>, process: ManagedProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await done()) return;
    if (process.hasExited()) throw new Error(`${what} exited:\n${process.logs()}`);
    await sleep(100);
  }
  throw new Error(`${what} did not start:\n${process.logs()}`);
}

async function renderHosts(dir: string, caFile: string | undefined): Promise<void> {
  const args = ['config', 'containerd', '--registry', `${REGISTRY}/${PREFIX}`, '--mirror-for', 'docker.io', '-o', dir, ...(caFile === undefined ? [] : ['--ca-file', caFile])];
  await run(process.execPath, [AIRGAP_BIN, ...args]);
}

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  // Served under the prefix: docker.io/airgap-test/app-a must become /v2/mirror/airgap-test/app-a.
  images = await buildOciLayout(join(tmp.path, 'layout'), [
    { repository: `${PREFIX}/airgap-test/app-a`, tag: '1.0', layers: [{ seed: 'ctrd-base', sizeBytes: 8192 }, { seed: 'ctrd-app', sizeBytes: 4096 }] },
    { repository: `${PREFIX}/airgap-test/multi`, tag: '2.0', layers: [{ seed: 'ctrd-base', sizeBytes: 8192 }], platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }] },
  ]);
  netns = startManagedProcess('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec sleep 86400']);
  await waitFor('the network namespace', async () => (await run('nsenter', [`--net=/proc/${netns.pid}/ns/net`, '--', 'ip', '-o', 'link', 'show', 'lo']).catch(() => undefined))?.stdout.toString('utf8').includes('UP') === true, netns);

  const [serveFile, serveArgs] = inNetns(process.execPath, [AIRGAP_BIN, 'serve', join(tmp.path, 'layout'), '--listen', REGISTRY, '--tls-cert', ca.certFile, '--tls-key', ca.keyFile]);
  serve = startManagedProcess(serveFile, serveArgs);
  await waitFor('airgap serve', async () => /Serving \d+ images at https:/.test(serve.logs()), serve);

  const state = join(tmp.path, 'state');
  socket = join(state, 'c.sock');
  await mkdir(state, { recursive: true });
  const config = join(tmp.path, 'containerd.toml');
  await writeFile(config, [
    'version = 2',
    `root = ${JSON.stringify(join(tmp.path, 'root'))}`,
    `state = ${JSON.stringify(state)}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = ${JSON.stringify(socket)}`,
    '',
  ].join('\n'));
  const [file, argv] = inNetns('containerd', ['--config', config]);
  containerd = startManagedProcess(file, argv, { cleanupDir: tmp.path });
  await waitFor('containerd', async () => existsSync(socket) && (await ctr(['version']).then(() => true, () => false)), containerd);
}, 180_000);

afterAll(async () => {
  await containerd?.stop();
  await serve?.stop();
  await netns?.stop();
});

describe('airgap config containerd, read by real containerd', () => {
  it('pulls from the registry over HTTPS with the rendered CA, and docker.io/... through the mirror entry', async () => {
    const hosts = join(tmp.path, 'certs.d');
    await renderHosts(hosts, ca.caFile);
    expect(await readFile(join(hosts, 'docker.io', 'hosts.toml'), 'utf8')).toContain(`[host."https://${REGISTRY}/v2/${PREFIX}"]`);
    const [appA, multi] = images;
    for (const [reference, image] of [
      [`${REGISTRY}/${PREFIX}/airgap-test/app-a:1.0`, appA],
      [`docker.io/airgap-test/app-a:1.0`, appA],
      [`docker.io/airgap-test/multi:2.0`, multi],
    ] as const) {
      await ctr(['images', 'pull', '--hosts-dir', hosts, '--snapshotter', 'native', reference]);
      const listed = await ctr(['images', 'ls']);
      const line = listed.split('\n').find((l) => l.startsWith(`${reference} `));
      expect(line, listed).toContain(image?.digest ?? 'no image');
    }
    // They came to airgap serve under the prefix, marked by containerd as asked for docker.io (?ns=docker.io).
    expect(serve.logs()).toMatch(/HEAD \/v2\/mirror\/airgap-test\/app-a\/manifests\/1\.0\?ns=docker\.io 200/);
    expect(serve.logs()).toMatch(/GET \/v2\/mirror\/airgap-test\/multi\/blobs\/sha256:[a-f0-9]{64}\?ns=docker\.io 200/);
  });

  it('is refused without the CA, and when the CA is another one: the trust really comes from ca.crt', async () => {
    const without = join(tmp.path, 'no-ca');
    await renderHosts(without, undefined);
    const wrong = join(tmp.path, 'wrong-ca');
    await renderHosts(wrong, (await makeUntrustedCertificateAuthority(tmp.path)).caFile);
    for (const dir of [without, wrong]) {
      await ctr(['images', 'rm', '--sync', `docker.io/airgap-test/app-a:1.0`]).catch(() => '');
      const failure = await ctr(['images', 'pull', '--hosts-dir', dir, '--snapshotter', 'native', `docker.io/airgap-test/app-a:1.0`]).then(() => undefined, (err: unknown) => err);
      expect(failure).toBeInstanceOf(CommandError);
      expect((failure as CommandError).stderr).toMatch(/x509|certificate/);
    }
    await rm(without, { recursive: true });
  });
});
