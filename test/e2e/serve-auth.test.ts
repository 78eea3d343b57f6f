import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { startDockerd, trustRegistryInDocker, type RunningDockerd } from '../support/dockerd.ts';
import { buildOciLayout, demoImageSet, type BuiltImage } from '../support/images.ts';
import { CommandError, run } from '../support/process.ts';
import { bcryptHtpasswdLine } from '../support/registry.ts';
import { inspectRaw, sha256Digest, skopeo, skopeoAccessArgs } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';
import { startServeCli, type ServeProcess } from './serve-cli.ts';

// `airgap serve --htpasswd` over HTTPS against the clients a site uses: skopeo, a real dockerd (login, push,
// pull), containerd's ctr (on dockerd's own containerd) and `airgap load`, each with the right password, a wrong
// one and none; with and without --anonymous-pull. The server runs as the CLI, and its request log is checked:
// every line names the client's address, authenticated lines the user, and no line a password.
const PASSWORD = 'a password that must never be logged';
const WRONG = 'not-the-password';
const tmp = useTempDir('airgap-serve-auth-e2e-');
let ca: CertificateAuthority;
let layout: string;
let appA: BuiltImage;
let multi: BuiltImage;
/** Users only. */
let closed: ServeProcess;
/** Users to push, anyone to pull. */
let open: ServeProcess;
let dockerd: RunningDockerd;
const untrust: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  layout = join(tmp.path, 'layout');
  const images = await buildOciLayout(layout, demoImageSet());
  appA = images.find((i) => i.repository === 'airgap-test/app-a') as BuiltImage;
  multi = images.find((i) => i.repository === 'airgap-test/multi') as BuiltImage;
  const htpasswd = join(tmp.path, 'htpasswd');
  await writeFile(htpasswd, `${await bcryptHtpasswdLine('alice', PASSWORD)}\n`);
  const tls = ['--tls-cert', ca.certFile, '--tls-key', ca.keyFile, '--htpasswd', htpasswd, '--writable'];
  [closed, open, dockerd] = await Promise.all([
    startServeCli([...tls, '--store', join(tmp.path, 'closed')]),
    startServeCli([...tls, '--store', join(tmp.path, 'open'), '--anonymous-pull']),
    startDockerd(join(tmp.path, 'd')),
  ]);
  for (const server of [closed, open]) untrust.push(await trustRegistryInDocker(server.host, ca.caFile));
  // Both hold the two images, pushed by skopeo with the right password.
  for (const server of [closed, open]) {
    for (const image of [appA, multi]) await skopeoCopyIn(server, image, { username: 'alice', password: PASSWORD });
  }
});

afterAll(async () => {
  for (const undo of untrust) await undo();
  await Promise.all([closed?.stop(), open?.stop(), dockerd?.stop()]);
});

async function skopeoCopyIn(server: ServeProcess, image: BuiltImage, creds: { username?: string; password?: string }, repository = image.repository): Promise<void> {
  const dest = await skopeoAccessArgs('dest-', { caFile: ca.caFile, ...creds }, tmp.path);
  await skopeo(['copy', '--all', '--preserve-digests', '--quiet', ...dest, `oci:${layout}:${image.layoutName}`, `docker://${server.host}/${repository}:${image.tag}`]);
}

/** The message of a command that must fail. */
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err: unknown) {
    if (err instanceof CommandError) return `${err.stderr}\n${err.stdout}`;
    throw err;
  }
  throw new Error('the command succeeded');
}

describe('skopeo', () => {
  it('reads with the right password; a wrong one or none is refused (401) without --anonymous-pull', async () => {
    const ref = `${closed.host}/${appA.repository}:${appA.tag}`;
    expect(sha256Digest(await inspectRaw(ref, { caFile: ca.caFile, username: 'alice', password: PASSWORD }))).toBe(appA.digest);
    expect(await failure(inspectRaw(ref, { caFile: ca.caFile, username: 'alice', password: WRONG }))).toMatch(/unauthorized|authentication required|401/i);
    expect(await failure(inspectRaw(ref, { caFile: ca.caFile }))).toMatch(/unauthorized|authentication required|401/i);
  });

  it('with --anonymous-pull reads with no credentials, and still cannot push without them', async () => {
    expect(sha256Digest(await inspectRaw(`${open.host}/${multi.repository}:${multi.tag}`, { caFile: ca.caFile }))).toBe(multi.digest);
    expect(await failure(skopeoCopyIn(open, appA, {}, 'anonymous/push'))).toMatch(/unauthorized|authentication required|401/i);
    expect(await failure(inspectRaw(`${open.host}/${appA.repository}:${appA.tag}`, { caFile: ca.caFile, username: 'alice', password: WRONG }))).toMatch(/unauthorized|401/i);
  });
});

describe('docker', () => {
  it('logs in with the right password only, pushes, and pulls back by digest', async () => {
    expect(await failure(dockerd.docker(['login', closed.host, '-u', 'alice', '--password-stdin'], { input: WRONG }))).toMatch(/unauthorized|401/i);
    const login = await dockerd.docker(['login', closed.host, '-u', 'alice', '--password-stdin'], { input: PASSWORD });
    expect(login.stdout.toString('utf8')).toContain('Login Succeeded');
    const pulled = (await dockerd.docker(['pull', `${closed.host}/${appA.repository}:${appA.tag}`])).stdout.toString('utf8');
    expect(pulled).toContain(`Digest: ${appA.digest}`);
    const target = `${closed.host}/docker/pushed:v1`;
    await dockerd.docker(['tag', `${closed.host}/${appA.repository}:${appA.tag}`, target]);
    const pushed = (await dockerd.docker(['push', target])).stdout.toString('utf8');
    const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed)?.[1];
    expect(digest, pushed).toBeDefined();
    expect(sha256Digest(await inspectRaw(target, { caFile: ca.caFile, username: 'alice', password: PASSWORD }))).toBe(digest);
    await dockerd.docker(['logout', closed.host]);
    await dockerd.docker(['rmi', target, `${closed.host}/${appA.repository}:${appA.tag}`]);
    expect(await failure(dockerd.docker(['pull', `${closed.host}/${appA.repository}:${appA.tag}`]))).toMatch(/unauthorized|authentication required|no basic auth/i);
  });

  it('pulls anonymously from --anonymous-pull, and cannot push there without logging in', async () => {
    const ref = `${open.host}/${multi.repository}:${multi.tag}`;
    expect((await dockerd.docker(['pull', ref])).stdout.toString('utf8')).toContain(`Digest: ${multi.digest}`);
    const target = `${open.host}/docker/anonymous:v1`;
    await dockerd.docker(['tag', ref, target]);
    expect(await failure(dockerd.docker(['push', target]))).toMatch(/unauthorized|authentication required|no basic auth/i);
  });
});

describe('containerd (ctr)', () => {
  const socket = (): string => join(dockerd.dir, 'exec', 'containerd', 'containerd.sock');
  const ctr = async (args: string[]): Promise<string> =>
    (await run('ctr', ['--address', socket(), '--namespace', 'airgap-test', ...args])).stdout.toString('utf8');
  let hostsDir: string;

  beforeAll(async () => {
    // As a site configures containerd (certs.d/HOST/hosts.toml): ctr would take a loopback host for plain HTTP.
    hostsDir = join(tmp.path, 'certs.d');
    for (const server of [closed, open]) {
      await mkdir(join(hostsDir, server.host), { recursive: true });
      await writeFile(join(hostsDir, server.host, 'hosts.toml'), `server = "https://${server.host}"\n\n[host."https://${server.host}"]\n  capabilities = ["pull", "resolve"]\n  ca = ${JSON.stringify(ca.caFile)}\n`);
    }
  });

  it('pulls with the right user, not with a wrong password or none; anonymously from --anonymous-pull', async () => {
    const pull = ['images', 'pull', '--snapshotter', 'native', '--hosts-dir', hostsDir];
    await ctr([...pull, '--user', `alice:${PASSWORD}`, `${closed.host}/${appA.repository}:${appA.tag}`]);
    expect(await ctr(['images', 'ls'])).toContain(appA.digest);
    expect(await failure(ctr([...pull, '--user', `alice:${WRONG}`, `${closed.host}/${multi.repository}:${multi.tag}`]))).toMatch(/unauthorized|401/i);
    expect(await failure(ctr([...pull, `${closed.host}/${multi.repository}:${multi.tag}`]))).toMatch(/unauthorized|401/i);
    await ctr([...pull, `${open.host}/${multi.repository}:${multi.tag}`]);
    expect(await ctr(['images', 'ls'])).toContain(multi.digest);
  });
});

describe('airgap load (our own client)', () => {
  it('pushes with --username and --password-stdin, and a wrong password is one clear line', async () => {
    const carried = join(tmp.path, 'carried');
    const list = join(tmp.path, 'images.txt');
    await writeFile(list, `${open.host}/${appA.repository}:${appA.tag}\n`);
    const collected = await runAirgap(['collect', list, '-o', carried, '--ca-file', ca.caFile]);
    expect(collected.stderr).toBe('');
    expect(collected.code).toBe(0);
    const wrong = await runAirgap(['load', carried, '--registry', `${closed.host}/loaded`, '--ca-file', ca.caFile, '--username', 'alice', '--password-stdin', '--charms-dir', join(tmp.path, 'charms')], { input: `${WRONG}\n` });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: .*(credentials|password|unauthorized|401)/im);
    expect(wrong.stderr).not.toContain(WRONG);
    const loaded = await runAirgap(['load', carried, '--registry', `${closed.host}/loaded`, '--ca-file', ca.caFile, '--username', 'alice', '--password-stdin', '--charms-dir', join(tmp.path, 'charms')], { input: `${PASSWORD}\n` });
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(0);
    expect(sha256Digest(await inspectRaw(`${closed.host}/loaded/${appA.repository}:${appA.tag}`, { caFile: ca.caFile, username: 'alice', password: PASSWORD }))).toBe(appA.digest);
  });
});

describe('the request log over HTTPS', () => {
  it('names the client address on every line, the user on authenticated ones, and never a password', () => {
    for (const server of [closed, open]) {
      const lines = server.process.logs().split('\n').filter((l) => /^\d{4}-\d\d-\d\dT/.test(l));
      expect(lines.length).toBeGreaterThan(50);
      for (const line of lines) expect(line, line).toMatch(/^\S+ 127\.0\.0\.1 (alice|-) [A-Z]+ \//);
      expect(lines.some((l) => / 127\.0\.0\.1 alice (PUT|POST|PATCH) /.test(l))).toBe(true);
      expect(lines.some((l) => / 127\.0\.0\.1 - GET .* 401 /.test(l))).toBe(true);
      const all = server.process.logs();
      expect(all).not.toContain(PASSWORD);
      expect(all).not.toContain(WRONG);
      expect(all).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
    }
  });
});
