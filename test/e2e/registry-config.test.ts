import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { runAirgap } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { buildOciLayout, type BuiltImage } from '../support/images.ts';
import { freePort, isListeningOn, startManagedProcess, type ManagedProcess } from '../support/process.ts';
import { sleep } from '../../src/util/sleep.ts';
import { bcryptHtpasswdLine, REGISTRY_BINARY } from '../support/registry.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';

// `airgap config registry` proven by Debian's docker-registry started on the rendered config.yml (HTTPS with
// the test CA, htpasswd), and `airgap load` pushing into it through that htpasswd.
const USER = 'loader';
const PASSWORD = 'correct horse battery';

const tmp = useTempDir('airgap-config-registry-');
let ca: CertificateAuthority;
let upstream: RunningServer;
let images: BuiltImage[];
let registry: ManagedProcess;
let host: string;
let carried: string;

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  images = await buildOciLayout(join(tmp.path, 'layout'), [
    { repository: 'airgap-test/app-a', tag: '1.0', layers: [{ seed: 'reg-base', sizeBytes: 8192 }, { seed: 'reg-app', sizeBytes: 4096 }] },
    { repository: 'airgap-test/multi', tag: '1.0', layers: [{ seed: 'reg-base', sizeBytes: 8192 }], platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }] },
  ]);
  upstream = await startServer({ source: join(tmp.path, 'layout'), listen: '127.0.0.1:0' });
  const list = join(tmp.path, 'images.txt');
  await writeFile(list, images.map((i) => `${upstream.host}/${i.repository}:${i.tag}`).join('\n'));
  carried = join(tmp.path, 'carried');
  const collected = await runAirgap(['collect', list, '-o', carried, '--plain-http', upstream.host]);
  if (collected.code !== 0) throw new Error(collected.stderr);

  const htpasswd = join(tmp.path, 'htpasswd');
  await writeFile(htpasswd, `${await bcryptHtpasswdLine(USER, PASSWORD)}\n`, { mode: 0o600 });
  // The env must not hold REGISTRY_* variables: they override config.yml.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  for (let attempt = 0; attempt < 5 && registry === undefined; attempt++) {
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    const config = join(tmp.path, 'config.yml');
    const rendered = await runAirgap(['config', 'registry', '--registry', host, '--tls-cert', ca.certFile, '--tls-key', ca.keyFile, '--htpasswd', htpasswd,
      '--storage', join(tmp.path, 'storage'), '--listen', host, '-o', config, '--force']);
    if (rendered.code !== 0) throw new Error(rendered.stderr);
    const child = startManagedProcess(REGISTRY_BINARY, ['serve', config], { cwd: tmp.path, env, cleanupDir: tmp.path });
    for (let i = 0; i < 300 && !child.hasExited(); i++) {
      if (await isListeningOn(child.pid, port)) {
        registry = child;
        break;
      }
      await sleep(50);
    }
    if (registry === undefined) await child.stop();
  }
  if (registry === undefined) throw new Error('docker-registry did not start on the rendered config');
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  await upstream?.close();
});

describe('airgap config registry, served by docker-registry', () => {
  it('airgap load pushes through its htpasswd over HTTPS, digests unchanged', async () => {
    const loaded = await runAirgap(['load', carried, '--registry', host, '--ca-file', ca.caFile, '--username', USER, '--password-stdin', '--charms-dir', join(tmp.path, 'charms')], { input: `${PASSWORD}\n` });
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(0);
    for (const image of images) {
      expect(sha256Digest(await inspectRaw(`${host}/${image.repository}:${image.tag}`, { caFile: ca.caFile, username: USER, password: PASSWORD }))).toBe(image.digest);
    }
    expect(loaded.stdout + loaded.stderr).not.toContain(PASSWORD);
  });

  it('refuses a push without the password, and a client that does not trust the CA', async () => {
    const anonymous = await runAirgap(['load', carried, '--registry', host, '--ca-file', ca.caFile, '--charms-dir', join(tmp.path, 'charms')], { env: { HOME: tmp.path, DOCKER_CONFIG: join(tmp.path, 'no-docker') } });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/401|credentials|unauthorized|authentication/i);
    const untrusted = await runAirgap(['load', carried, '--registry', host, '--username', USER, '--password-stdin', '--charms-dir', join(tmp.path, 'charms')], { input: `${PASSWORD}\n`, env: { HOME: tmp.path } });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/certificate/i);
  });
});
