import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { unpackTarGz, type ArchiveMember } from '../support/archive.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { MediaTypes, demoImageSet, distinctBytes, pushTestImages, type PushedImage } from '../support/images.ts';
import { run } from '../support/process.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { sha256Digest, skopeo } from '../support/skopeo.ts';
import { writeTestCharm } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';
import type { Lock } from '../../src/lock.ts';

const PLACEHOLDER = '172.17.0.2:5000';
const USER = 'collector';
const PASSWORD = 's3cret-Pa55word';

const tmp = useTempDir('airgap-collect-');
let ca: CertificateAuthority;
let plain: RunningRegistry;
let secure: RunningRegistry;
let pushedPlain: PushedImage[];
let pushedSecure: PushedImage[];
let dockerConfigDir: string;

function byRepo(images: PushedImage[], repository: string): PushedImage {
  const found = images.find((i) => i.repository === repository);
  if (found === undefined) throw new Error(`no test image ${repository}`);
  return found;
}

/** A release as a site writes it: placeholder references in a Juju bundle, an extra charm, a manifest. */
async function writeRelease(dir: string, upstream: string, extra: Record<string, string> = {}): Promise<string> {
  await mkdir(join(dir, 'k8s'), { recursive: true });
  await writeTestCharm(join(dir, 'app-a_1.charm'), 'app-a');
  await writeTestCharm(join(dir, 'extra_2.charm'), 'extra');
  await writeFile(join(dir, 'bundle.yaml'), [
    'bundle: kubernetes',
    'applications:',
    '  app-a:',
    '    charm: ./app-a_1.charm',
    '    scale: 1',
    '    resources:',
    `      oci-image: ${PLACEHOLDER}/airgap-test/app-a:1.0`,
    '    options:',
    `      images: "['${PLACEHOLDER}/airgap-test/base:1.0','${PLACEHOLDER}/airgap-test/app-c']"`,
    `      custom_images: '{"b": "${PLACEHOLDER}/airgap-test/team/app-b:v2.1.0", }'`,
    '',
  ].join('\n'));
  await writeFile(join(dir, 'k8s', 'deploy.yaml'), [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: { name: web }',
    'spec:',
    '  template:',
    '    spec:',
    '      containers:',
    `        - { name: web, image: "${PLACEHOLDER}/airgap-test/team/app-b:v2.1.0" }`,
    '',
  ].join('\n'));
  await writeFile(join(dir, 'airgap.yaml'), [
    'name: demo',
    'version: "1.0"',
    `placeholder: ${PLACEHOLDER}`,
    'upstream:',
    `  "*": ${upstream}`,
    'bundle: bundle.yaml',
    'charms:',
    '  - name: extra',
    '    charm: ./extra_2.charm',
    `    resources: { oci-image: ${PLACEHOLDER}/airgap-test/docker-format:1.0 }`,
    'relations:',
    '  - [extra, app-a]',
    'images:',
    `  - ${PLACEHOLDER}/airgap-test/multi:1.0`,
    'manifests: [k8s/*.yaml]',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
    '',
  ].join('\n'));
  return join(dir, 'airgap.yaml');
}

async function readLock(dir: string): Promise<Lock> {
  return JSON.parse(await readFile(join(dir, 'airgap-lock.json'), 'utf8')) as Lock;
}

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  plain = await startRegistry();
  secure = await startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile }, htpasswd: { username: USER, password: PASSWORD } });
  [pushedPlain, pushedSecure] = await Promise.all([
    pushTestImages(plain, demoImageSet()),
    pushTestImages(secure, demoImageSet(), { caFile: ca.caFile, username: USER, password: PASSWORD }),
  ]);
  // Credentials the way a user has them: `docker login` wrote them to a config.json.
  dockerConfigDir = join(tmp.path, 'docker-config');
  await mkdir(dockerConfigDir);
  await writeFile(join(dockerConfigDir, 'config.json'), JSON.stringify({
    auths: { [secure.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } },
  }));
});

afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
});

describe('airgap collect of a release from a private-CA registry with basic auth', () => {
  let out: string;
  let unpacked: string;
  let members: ArchiveMember[];
  let lock: Lock;
  let stdout: string;

  beforeAll(async () => {
    const releaseDir = join(tmp.path, 'release');
    await mkdir(releaseDir);
    const release = await writeRelease(releaseDir, secure.host);
    out = join(tmp.path, 'out');
    const result = await runAirgap(['collect', release, '-o', out, '--ca-file', ca.caFile], { env: { DOCKER_CONFIG: dockerConfigDir } });
    expect(result.stderr).not.toContain('error');
    expect(result.code).toBe(0);
    stdout = result.stdout;
    lock = await readLock(out);
    unpacked = join(tmp.path, 'unpacked');
    members = await unpackTarGz(join(out, 'images.tar.gz'), unpacked);
  });

  it('writes the three files under their final names and nothing else', async () => {
    expect((await readdir(out)).sort()).toEqual(['airgap-lock.json', 'charms.tar.gz', 'images.tar.gz']);
    expect(stdout).toContain('Collected 6 images');
  });

  it('records every image with the digest the upstream registry serves', () => {
    const expected = ['app-a', 'base', 'app-c', 'team/app-b', 'docker-format', 'multi'].map((r) => byRepo(pushedSecure, `airgap-test/${r}`));
    expect(lock.images).toHaveLength(6);
    for (const image of expected) {
      const locked = lock.images.find((i) => i.path === `${image.repository}:${image.tag}`);
      expect(locked, image.repository).toBeDefined();
      expect(locked?.digest).toBe(image.digest);
      expect(locked?.mediaType).toBe(image.mediaType);
      expect(locked?.upstream).toBe(`${secure.host}/${image.repository}:${image.tag}`);
      expect(locked?.reference).toBe(`${PLACEHOLDER}/${image.repository}${image.tag === 'latest' ? '' : `:${image.tag}`}`);
    }
    expect(lock.placeholder).toBe(PLACEHOLDER);
    expect(lock.name).toBe('demo');
    expect(lock.archives['images.tar.gz']?.size).toBeGreaterThan(0);
  });

  it('stores every blob once, small files first', () => {
    const names = members.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.slice(0, 3)).toEqual(['oci-layout', 'index.json', 'manifest.json']);
    const allDigests = new Set(pushedSecure.flatMap((i) => Object.keys(i.sizes)));
    const blobNames = names.filter((n) => n.startsWith('blobs/sha256/'));
    expect(new Set(blobNames.map((n) => `sha256:${n.slice('blobs/sha256/'.length)}`))).toEqual(allDigests);
    // Manifests and configs (all small) come before the first layer.
    const layerDigests = new Set(pushedSecure.flatMap((i) => i.manifests.flatMap((m) => m.layers.map((l) => l.digest))));
    const firstLayer = blobNames.findIndex((n) => layerDigests.has(`sha256:${n.slice(13)}`));
    expect(blobNames.slice(firstLayer).every((n) => layerDigests.has(`sha256:${n.slice(13)}`))).toBe(true);
  });

  it('is no larger than the distinct blobs plus tar framing', async () => {
    const size = lock.archives['images.tar.gz']?.size ?? 0;
    const unique = distinctBytes(pushedSecure);
    // Stored deflate blocks cost ~5 bytes per 64 KiB; tar costs at most 1 KiB per member.
    expect(size).toBeLessThanOrEqual(unique * 1.01 + members.length * 1024 + 4096);
  });

  it('is an OCI layout that skopeo reads, with the upstream digests and ref names', async () => {
    const index = JSON.parse(await readFile(join(unpacked, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    for (const image of pushedSecure) {
      const path = `${image.repository}:${image.tag}`;
      const entry = index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === path);
      expect(entry?.digest, path).toBe(image.digest);
      expect(entry?.annotations['io.containerd.image.name']).toBe(`${secure.host}/${path}`);
      // The blob under the digest is the manifest byte for byte.
      expect(sha256Digest(await readFile(join(unpacked, 'blobs/sha256', image.digest.slice(7))))).toBe(image.digest);
      // skopeo's oci: transport only looks at OCI media types in index.json; Docker-media-type images are
      // checked through the docker-archive side of the same file below.
      if (image.mediaType !== MediaTypes.ociManifest && image.mediaType !== MediaTypes.ociIndex) continue;
      const raw = await skopeo(['inspect', '--raw', `oci:${unpacked}:${path}`]);
      expect(sha256Digest(raw.stdout)).toBe(image.digest);
    }
    const multi = byRepo(pushedSecure, 'airgap-test/multi');
    const raw = JSON.parse((await skopeo(['inspect', '--raw', `oci:${unpacked}:airgap-test/multi:1.0`])).stdout.toString()) as { manifests: unknown[] };
    expect(raw.manifests).toHaveLength(multi.manifests.length);
    const amd64 = await skopeo(['inspect', '--override-arch', 'arm64', `oci:${unpacked}:airgap-test/multi:1.0`]);
    expect(JSON.parse(amd64.stdout.toString()).Architecture).toBe('arm64');
  });

  it('is a docker-archive too: skopeo reads every image through manifest.json', async () => {
    // skopeo 1.9 reads docker-archive only uncompressed (docker load takes the .gz itself: see the dockerd suite).
    const tar = join(tmp.path, 'images.tar');
    await pipeline(createReadStream(join(out, 'images.tar.gz')), createGunzip(), createWriteStream(tar));
    for (const image of pushedSecure) {
      const tag = `${PLACEHOLDER}/${image.repository}:${image.tag}`;
      const inspected = JSON.parse((await skopeo(['inspect', '--config', `docker-archive:${tar}:${tag}`])).stdout.toString()) as { rootfs: { diff_ids: string[] } };
      const loadable = image.manifests.find((m) => !m.attestation && (m.platform === undefined || m.platform.architecture === 'amd64'));
      expect(inspected.rootfs.diff_ids, tag).toEqual(loadable?.diffIds);
    }
  });

  it('packs the charms, the bundle, airgap.yaml and the manifests flat into charms.tar.gz', async () => {
    const charmMembers = await unpackTarGz(join(out, 'charms.tar.gz'), join(tmp.path, 'charms'));
    expect(charmMembers.map((m) => m.name).sort()).toEqual(['airgap.yaml', 'app-a_1.charm', 'bundle.yaml', 'deploy.yaml', 'extra_2.charm']);
    expect(lock.charms.map((c) => c.file).sort()).toEqual(['app-a_1.charm', 'extra_2.charm']);
    for (const charm of lock.charms) expect(charm.sha256).toMatch(/^[a-f0-9]{64}$/);
  });

  it('never writes the password anywhere', async () => {
    for (const file of ['airgap-lock.json']) expect(await readFile(join(out, file), 'utf8')).not.toContain(PASSWORD);
    expect(stdout).not.toContain(PASSWORD);
  });
});

describe('airgap collect of an image list over plain HTTP', () => {
  it('narrows multi-arch images with --platform and prints a JSON summary', async () => {
    const dir = join(tmp.path, 'list');
    await mkdir(dir);
    const list = join(dir, 'images.txt');
    await writeFile(list, ['# two images', `${plain.host}/airgap-test/multi:1.0`, '', `${plain.host}/airgap-test/app-a:1.0  # shares the base layer`, ''].join('\n'));
    const result = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', plain.host, '--platform', 'linux/arm64', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { images: { path: string; digest: string; platforms: string[] }[] };
    const multi = summary.images.find((i) => i.path === 'airgap-test/multi:1.0');
    expect(multi?.platforms).toEqual(['linux/arm64/v8']);
    expect(multi?.digest).not.toBe(byRepo(pushedPlain, 'airgap-test/multi').digest);
    const appA = summary.images.find((i) => i.path === 'airgap-test/app-a:1.0');
    expect(appA?.digest).toBe(byRepo(pushedPlain, 'airgap-test/app-a').digest);
    const lock = await readLock(join(dir, 'out'));
    expect(lock.images.find((i) => i.path === 'airgap-test/multi:1.0')?.narrowed).toBe(true);
    const unpacked = join(dir, 'unpacked');
    await unpackTarGz(join(dir, 'out', 'images.tar.gz'), unpacked);
    const index = JSON.parse((await skopeo(['inspect', '--raw', `oci:${unpacked}:airgap-test/multi:1.0`])).stdout.toString()) as { manifests: { platform: { architecture: string } }[] };
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(['arm64']);
  });

  it('writes the guide\'s per-image layout with --per-image, each tar readable on its own', async () => {
    const dir = join(tmp.path, 'per-image');
    await mkdir(dir);
    const list = join(dir, 'images.txt');
    await writeFile(list, `${plain.host}/airgap-test/app-a:1.0\n${plain.host}/airgap-test/docker-format:1.0\n`);
    const result = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', plain.host, '--per-image']);
    expect(result.code).toBe(0);
    const unpacked = join(dir, 'unpacked');
    const members = await unpackTarGz(join(dir, 'out', 'images.tar.gz'), unpacked);
    expect(members.map((m) => m.name).sort()).toEqual(['airgap-test_app-a_1.0.tar', 'airgap-test_docker-format_1.0.tar']);
    for (const repo of ['app-a', 'docker-format']) {
      const inner = join(unpacked, `airgap-test_${repo}_1.0.tar`);
      const image = byRepo(pushedPlain, `airgap-test/${repo}`);
      if (image.mediaType === MediaTypes.ociManifest) {
        const raw = await skopeo(['inspect', '--raw', `oci-archive:${inner}:airgap-test/${repo}:1.0`]);
        expect(sha256Digest(raw.stdout)).toBe(image.digest);
      }
      // The same file is a docker-archive too, whatever the media type.
      const config = JSON.parse((await skopeo(['inspect', '--config', `docker-archive:${inner}`])).stdout.toString()) as { rootfs: { diff_ids: string[] } };
      expect(config.rootfs.diff_ids).toEqual(image.manifests[0]?.diffIds);
    }
  });
});

describe('airgap collect refuses bad input with one clear line and leaves nothing behind', () => {
  async function failingCollect(name: string, args: (dir: string) => Promise<string[]> | string[], env: NodeJS.ProcessEnv = {}): Promise<{ line: string; code: number | null; dir: string }> {
    const dir = join(tmp.path, `fail-${name}`);
    await mkdir(dir, { recursive: true });
    const result = await runAirgap(['collect', ...(await args(dir)), '-o', join(dir, 'out')], { env });
    if (existsSync(join(dir, 'out'))) expect(await readdir(join(dir, 'out'))).toEqual([]);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    return { line: result.stderr.trim(), code: result.code, dir };
  }

  it('an image the registry does not have: which image, which file and line', async () => {
    const { line, code } = await failingCollect('missing', async (dir) => {
      await writeFile(join(dir, 'images.txt'), `${plain.host}/airgap-test/app-a:1.0\n${plain.host}/airgap-test/app-a:9.9\n`);
      return [join(dir, 'images.txt'), '--plain-http', plain.host];
    });
    expect(code).toBe(1);
    expect(line).toContain('airgap-test/app-a:9.9');
    expect(line).toContain('images.txt:2');
    expect(line).toContain('not found');
  });

  it('an untrusted certificate: says how to trust it', async () => {
    const { line, code } = await failingCollect('untrusted', async (dir) => {
      await writeFile(join(dir, 'images.txt'), `${secure.host}/airgap-test/app-a:1.0\n`);
      return [join(dir, 'images.txt')];
    }, { DOCKER_CONFIG: dockerConfigDir });
    expect(code).toBe(1);
    expect(line).toContain(secure.host);
    expect(line).toContain('--ca-file');
    expect(line).toContain(`/etc/docker/certs.d/${secure.host}/ca.crt`);
  });

  it('a plain-HTTP registry without --plain-http: says to pass it', async () => {
    const { line, code } = await failingCollect('plain', async (dir) => {
      await writeFile(join(dir, 'images.txt'), `${plain.host}/airgap-test/app-a:1.0\n`);
      return [join(dir, 'images.txt')];
    });
    expect(code).toBe(1);
    expect(line).toContain(`--plain-http ${plain.host}`);
  });

  it('wrong credentials: names the registry, never the password', async () => {
    const badConfig = join(tmp.path, 'bad-docker-config');
    await mkdir(badConfig, { recursive: true });
    await writeFile(join(badConfig, 'config.json'), JSON.stringify({ auths: { [secure.host]: { auth: Buffer.from(`${USER}:not-${PASSWORD}`).toString('base64') } } }));
    const { line, code } = await failingCollect('credentials', async (dir) => {
      await writeFile(join(dir, 'images.txt'), `${secure.host}/airgap-test/app-a:1.0\n`);
      return [join(dir, 'images.txt'), '--ca-file', ca.caFile];
    }, { DOCKER_CONFIG: badConfig });
    expect(code).toBe(1);
    expect(line).toContain(secure.host);
    expect(line).toMatch(/credentials|401|unauthori/i);
    expect(line).not.toContain(PASSWORD);
  });

  it('a YAML error: file, line and column', async () => {
    const { line, code } = await failingCollect('yaml', async (dir) => {
      await writeFile(join(dir, 'airgap.yaml'), `name: demo\nplaceholder: ${PLACEHOLDER}\nimages:\n  - a/b:1\n bad: [x\n`);
      return [join(dir, 'airgap.yaml')];
    });
    expect(code).toBe(1);
    expect(line).toMatch(/airgap\.yaml:5:1\b/);
  });

  it('an unknown key in airgap.yaml: names it and suggests the right one', async () => {
    const { line, code } = await failingCollect('key', async (dir) => {
      await writeFile(join(dir, 'airgap.yaml'), `name: demo\nimagse:\n  - ${plain.host}/airgap-test/app-a:1.0\n`);
      return [join(dir, 'airgap.yaml')];
    });
    expect(code).toBe(1);
    expect(line).toContain('airgap.yaml:2');
    expect(line).toContain('imagse');
    expect(line).toContain('images');
  });

  it('a malformed reference', async () => {
    const { line, code } = await failingCollect('reference', async (dir) => {
      await writeFile(join(dir, 'images.txt'), `${plain.host}/Airgap-Test/App:1.0\n`);
      return [join(dir, 'images.txt'), '--plain-http', plain.host];
    });
    expect(code).toBe(1);
    expect(line).toContain('Airgap-Test/App');
    expect(line).toContain('images.txt:1');
  });

  it('two images with the same path from different hosts: names both', async () => {
    const { line, code } = await failingCollect('conflict', async (dir) => {
      await writeFile(join(dir, 'images.txt'), `${plain.host}/airgap-test/app-a:1.0\n${secure.host}/airgap-test/app-a:1.0\n`);
      return [join(dir, 'images.txt'), '--plain-http', plain.host];
    });
    expect(code).toBe(1);
    expect(line).toContain(`${plain.host}/airgap-test/app-a:1.0`);
    expect(line).toContain(`${secure.host}/airgap-test/app-a:1.0`);
  });

  it('a charm whose sha256 differs from the release', async () => {
    const { line, code } = await failingCollect('charm-sha', async (dir) => {
      await writeTestCharm(join(dir, 'x.charm'), 'not-the-charm-you-think');
      await writeFile(join(dir, 'airgap.yaml'), [
        'name: demo', 'charms:', '  - name: x', '    charm: ./x.charm', `    sha256: ${'0'.repeat(64)}`,
        `images: [${plain.host}/airgap-test/base:1.0]`, '',
      ].join('\n'));
      return [join(dir, 'airgap.yaml'), '--plain-http', plain.host];
    });
    expect(code).toBe(1);
    expect(line).toContain('x.charm');
    expect(line).toContain('sha256');
  });

  it('a blob whose bytes do not match its digest: which blob of which image', async () => {
    // A registry whose storage was damaged on disk serves wrong bytes under the right name.
    const damaged = await startRegistry();
    try {
      const [image] = await pushTestImages(damaged, [{ repository: 'airgap-test/damaged', tag: '1.0', layers: [{ seed: 'damaged', sizeBytes: 20_000 }] }]);
      const layer = image?.manifests[0]?.layers[0];
      if (layer === undefined) throw new Error('no layer pushed');
      const hex = layer.digest.slice(7);
      const data = join(damaged.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      const bytes = await readFile(data);
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
      await writeFile(data, bytes);
      const { line, code } = await failingCollect('digest', async (dir) => {
        await writeFile(join(dir, 'images.txt'), `${damaged.host}/airgap-test/damaged:1.0\n`);
        return [join(dir, 'images.txt'), '--plain-http', damaged.host];
      });
      expect(code).toBe(1);
      expect(line).toContain(layer.digest);
      expect(line).toContain('airgap-test/damaged:1.0');
    } finally {
      await damaged.stop();
    }
  });

  it('no space left on the output disk: says so, leaves no partial file', async () => {
    const mountPoint = join(tmp.path, 'small-disk');
    await mkdir(mountPoint, { recursive: true });
    // A real full disk: a 64 KiB tmpfs, far smaller than the images.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]);
    try {
      const dir = join(tmp.path, 'fail-space');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'images.txt'), `${plain.host}/airgap-test/app-a:1.0\n${plain.host}/airgap-test/app-c\n`);
      const result = await runAirgap(['collect', join(dir, 'images.txt'), '-o', mountPoint, '--plain-http', plain.host]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/space/);
      expect(await readdir(mountPoint)).toEqual([]);
    } finally {
      await run('umount', [mountPoint]);
    }
  });
});
