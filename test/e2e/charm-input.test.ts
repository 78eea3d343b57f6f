/**
 * Bad charms and bad bundles given to collect: each a clear one-line error naming the file or application and the
 * fix, exit 1, nothing written, and nothing contacted (a recording proxy stands where any connection would go).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap, type CliResult } from '../support/airgap-cli.ts';
import { unpackTarGz } from '../support/archive.ts';
import { testCharm, writeTestCharm, zipOf } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const JUJU = join(ROOT, 'test', 'stand-ins', 'juju');
const BUNDLE_18 = join(ROOT, 'test', 'fixtures', 'ckf', 'release-1.8', 'bundle.yaml');

const tmp = useTempDir('airgap-charm-input-');
let proxy: Server;
let proxyHost: string;
/** Every connection any collect below opened: there must be none. */
let connections = 0;
beforeAll(async () => {
  proxy = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolvePromise) => proxy.listen(0, '127.0.0.1', resolvePromise));
  const address = proxy.address();
  proxyHost = typeof address === 'object' && address !== null ? `127.0.0.1:${address.port}` : '';
});

afterAll(async () => {
  await new Promise<void>((resolvePromise) => proxy.close(() => resolvePromise()));
});

interface Case {
  dir: string;
  out: string;
  charms: string;
}

async function newCase(): Promise<Case> {
  const dir = await tmp.dir('case');
  const charms = join(dir, 'charmhub');
  await mkdir(charms);
  return { dir, out: join(dir, 'out'), charms };
}

/** collect with the stand-in juju serving `c.charms`; any registry connection would reach the recording proxy. */
function collect(c: Case, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runAirgap(['collect', ...args, '-o', c.out], {
    cwd: c.dir,
    env: {
      JUJU_STANDIN_CHARMS: c.charms, HTTP_PROXY: `http://${proxyHost}`, HTTPS_PROXY: `http://${proxyHost}`, NO_PROXY: '', no_proxy: '',
      CONTAINERS_REGISTRIES_CONF: join(c.dir, 'none.conf'), ...env,
    },
  });
}

/** The one failure line, exit 1, and nothing written. */
function expectFailure(c: Case, result: CliResult): string {
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(existsSync(c.out)).toBe(false);
  expect(connections).toBe(0);
  return lines[0] ?? '';
}

async function stockBundle(c: Case, applications: Record<string, string>): Promise<string> {
  const file = join(c.dir, 'bundle.yaml');
  await writeFile(file, `bundle: kubernetes\nname: test\napplications:\n${Object.entries(applications).map(([app, charm]) => `  ${app}:\n    charm: ${charm}\n    channel: latest/stable\n    scale: 1\n`).join('')}`);
  return file;
}

describe('a stock bundle without Juju on the online side', () => {
  it('says to install Juju or to give local charm files', async () => {
    const c = await newCase();
    const line = expectFailure(c, await collect(c, [BUNDLE_18], { PATH: '/nonexistent' }));
    expect(line).toContain('38 application(s) name Charmhub charms (admission-webhook, argo-controller, dex-auth, envoy, ...)');
    expect(line).toContain('juju not found (looked for "juju" on PATH)');
    expect(line).toContain('install Juju on this online machine (sudo snap install juju --classic) or pass --juju PATH; or give local charm files');
  });

  it('a charm Charmhub does not have: the application and Juju\'s own message', async () => {
    const c = await newCase();
    const line = expectFailure(c, await collect(c, [await stockBundle(c, { 'my-app': 'no-such-charm' }), '--juju', JUJU]));
    expect(line).toContain('cannot download charm no-such-charm (channel latest/stable) for my-app: ERROR The charm or bundle "no-such-charm" could not be found in channel "latest/stable".');
  });
});

describe('files that are not charms', () => {
  it('a downloaded zip with no charm metadata: named, with the fix', async () => {
    const c = await newCase();
    await writeFile(join(c.charms, 'empty-zip_r3.charm'), await zipOf({ 'README.md': 'not a charm' }));
    const line = expectFailure(c, await collect(c, [await stockBundle(c, { web: 'empty-zip' }), '--juju', JUJU]));
    expect(line).toContain('the charm Juju downloaded for web (empty-zip) cannot be read');
    expect(line).toContain('empty-zip_r3.charm: not a charm: the zip has no metadata.yaml or charmcraft.yaml');
  });

  it('a local .charm that is not a zip', async () => {
    const c = await newCase();
    await writeFile(join(c.dir, 'web.charm'), '{"auths": {"registry.example.com": {"auth": "c2VjcmV0"}}}');
    await writeFile(join(c.dir, 'bundle.yaml'), 'applications:\n  web:\n    charm: ./web.charm\n');
    const line = expectFailure(c, await collect(c, [join(c.dir, 'bundle.yaml')]));
    expect(line).toMatch(/bundle\.yaml:3 application web: \.\/web\.charm is not a charm: it is not a zip file/);
    expect(line).toContain('a .charm is the zip file `charmcraft pack` or `juju download` writes');
    expect(line).not.toContain('c2VjcmV0');
  });

  it('a local zip without metadata, and a file not named .charm', async () => {
    const c = await newCase();
    await writeFile(join(c.dir, 'web.charm'), await zipOf({ 'src/charm.py': 'print(1)\n' }));
    await writeFile(join(c.dir, 'airgap.yaml'), 'name: t\ncharms:\n  - name: web\n    charm: ./web.charm\n');
    const line = expectFailure(c, await collect(c, [join(c.dir, 'airgap.yaml')]));
    expect(line).toContain('charm web: ./web.charm is not a charm: the zip has no metadata.yaml or charmcraft.yaml');
    await writeFile(join(c.dir, 'airgap.yaml'), 'name: t\ncharms:\n  - name: web\n    charm: ./passwd\n');
    await writeFile(join(c.dir, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    expect(expectFailure(c, await collect(c, [join(c.dir, 'airgap.yaml')]))).toContain('./passwd is not a .charm file');
  });
});

describe('charms from outside the release\'s directory', () => {
  it('are refused, a symlink to outside included, unless --allow-outside', async () => {
    const c = await newCase();
    const release = join(c.dir, 'release');
    await mkdir(release);
    const outside = join(c.dir, 'elsewhere', 'web_1.charm');
    await mkdir(dirname(outside));
    await writeTestCharm(outside, 'web');
    await writeFile(join(release, 'bundle.yaml'), 'applications:\n  web:\n    charm: ../elsewhere/web_1.charm\n');
    const line = expectFailure(c, await collect(c, [join(release, 'bundle.yaml')]));
    expect(line).toContain(`../elsewhere/web_1.charm is outside the release's directory ${release}; collect packs only charms from inside it`);
    expect(line).toContain('or pass --allow-outside to pack it from where it is');

    await symlink(outside, join(release, 'linked.charm'));
    await writeFile(join(release, 'bundle.yaml'), 'applications:\n  web:\n    charm: ./linked.charm\n');
    expect(expectFailure(c, await collect(c, [join(release, 'bundle.yaml')]))).toContain('./linked.charm is outside the release\'s directory');

    await writeFile(join(release, 'bundle.yaml'), 'applications:\n  web:\n    charm: ../elsewhere/web_1.charm\n');
    // Not about Juju's own images: without a juju here they would only be warned about.
    const allowed = await collect(c, [join(release, 'bundle.yaml'), '--allow-outside', '--no-juju-images']);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
    const members = await unpackTarGz(join(c.out, 'charms.tar.gz'), join(c.dir, 'unpacked'));
    expect(members.map((m) => m.name).sort()).toEqual(['bundle.yaml', 'web_1.charm']);
    expect(await readFile(join(c.dir, 'unpacked', 'web_1.charm'))).toEqual(await readFile(outside));
    expect(connections).toBe(0);
  });
});

describe('images the charms name', () => {
  it('two hosts, one path: an error naming both', async () => {
    const c = await newCase();
    const charm = (image: string): Promise<Buffer> => testCharm('x', { 'metadata.yaml': `name: x\nresources:\n  oci-image:\n    type: oci-image\n    upstream-source: ${image}\n` });
    await writeFile(join(c.charms, 'one_r1.charm'), await charm('docker.io/team/app:1.0'));
    await writeFile(join(c.charms, 'two_r1.charm'), await charm('quay.io/team/app:1.0'));
    const line = expectFailure(c, await collect(c, [await stockBundle(c, { first: 'one', second: 'two' }), '--juju', JUJU]));
    expect(line).toContain('two different images would both live at team/app:1.0 in the private registry');
    expect(line).toContain('docker.io/team/app:1.0 (pulled from docker.io/team/app:1.0; at');
    expect(line).toContain('quay.io/team/app:1.0 (pulled from quay.io/team/app:1.0; at');
    expect(line).toContain('one_r1.charm/metadata.yaml');
    expect(line).toContain('two_r1.charm/metadata.yaml');
  });
});

describe('the placeholder host of an air-gapped bundle', () => {
  it('is never contacted: without upstream: it is an error saying how to write it', async () => {
    const c = await newCase();
    await writeTestCharm(join(c.dir, 'dex-auth_fa9f1c6.charm'), 'dex-auth');
    await writeFile(join(c.dir, 'bundle-airgap.yaml'), 'applications:\n  dex-auth:\n    charm: ./dex-auth_fa9f1c6.charm\n    resources:\n      oci-image: 172.17.0.2:5000/dexidp/dex:v2.31.2\n');
    const line = expectFailure(c, await collect(c, [join(c.dir, 'bundle-airgap.yaml')]));
    expect(line).toContain('bundle-airgap.yaml:5: 172.17.0.2:5000/dexidp/dex:v2.31.2 (applications.dex-auth.resources.oci-image): bundle-airgap.yaml is an air-gapped bundle (its charms are local files), so its host 172.17.0.2:5000 stands for the private registry');
    expect(line).toContain('write an airgap.yaml beside it (`airgap init bundle-airgap.yaml` drafts one) with placeholder: 172.17.0.2:5000, bundle: bundle-airgap.yaml and upstream: { "*": docker.io, "dexidp/": REGISTRY }');
  });

  it('the generated bundle\'s reserved placeholder is never pulled either', async () => {
    const c = await newCase();
    await writeFile(join(c.dir, 'images.txt'), 'registry.airgap.invalid/dexidp/dex:v2.31.2\n');
    const line = expectFailure(c, await collect(c, [join(c.dir, 'images.txt')]));
    expect(line).toContain('its host registry.airgap.invalid is a placeholder (a reserved name that never resolves)');
  });
});
