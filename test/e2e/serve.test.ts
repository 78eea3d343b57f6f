import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { AIRGAP_BIN, runAirgap } from '../support/airgap-cli.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { startDockerd, type RunningDockerd } from '../support/dockerd.ts';
import { buildOciLayout, demoImageSet, type BuiltImage } from '../support/images.ts';
import { inspectRaw, sha256Digest, skopeo } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';
import type { Lock } from '../../src/lock.ts';

// `airgap serve` against real clients: skopeo copying out and in, a real dockerd pulling and pushing, our own
// collect (serve as the upstream) and load (into a writable serve over HTTPS), and many clients at once.
const tmp = useTempDir('airgap-serve-e2e-');
let images: BuiltImage[];
let layout: string;
/** The generated images, served read-only straight from their OCI layout. */
let upstream: RunningServer;

const PLAIN = ['--src-tls-verify=false', '--dest-tls-verify=false'];

function refOf(server: RunningServer, image: BuiltImage): string {
  return `${server.host}/${image.repository}:${image.tag}`;
}

beforeAll(async () => {
  layout = join(tmp.path, 'layout');
  images = await buildOciLayout(layout, demoImageSet());
  upstream = await startServer({ source: layout, listen: '127.0.0.1:0' });
});

afterAll(async () => {
  await upstream?.close();
});

describe('skopeo against airgap serve', () => {
  let pushTarget: RunningServer;
  beforeAll(async () => {
    pushTarget = await startServer({ listen: '127.0.0.1:0', writable: true, store: join(tmp.path, 'skopeo-store') });
  });
  afterAll(async () => {
    await pushTarget?.close();
  });

  it('copies every image out (all platforms) and in (--writable), digests unchanged', async () => {
    for (const image of images) {
      const out = join(tmp.path, 'skopeo-out', image.repository.replaceAll('/', '_'));
      await mkdir(out, { recursive: true });
      await skopeo(['copy', '--all', '--preserve-digests', '--quiet', ...PLAIN, `docker://${refOf(upstream, image)}`, `oci:${out}:${image.tag}`]);
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      expect(index.manifests[0]?.digest, image.repository).toBe(image.digest);

      await skopeo(['copy', '--all', '--preserve-digests', '--quiet', ...PLAIN, `docker://${refOf(upstream, image)}`, `docker://${refOf(pushTarget, image)}`]);
      expect(sha256Digest(await inspectRaw(refOf(pushTarget, image))), image.repository).toBe(image.digest);
      for (const child of image.manifests) {
        expect(sha256Digest(await inspectRaw(`${pushTarget.host}/${image.repository}@${child.digest}`))).toBe(child.digest);
      }
    }
  });

  it('serves 8 concurrent pulls of the whole set, every one exact', async () => {
    const copies = Array.from({ length: 8 }, async (_, i) => {
      const image = images[i % images.length] as BuiltImage;
      const dir = join(tmp.path, 'concurrent', String(i));
      await mkdir(dir, { recursive: true });
      await skopeo(['copy', '--all', '--preserve-digests', '--quiet', ...PLAIN, `docker://${refOf(upstream, image)}`, `dir:${dir}`]);
      return { image, manifest: await readFile(join(dir, 'manifest.json')) };
    });
    for (const { image, manifest } of await Promise.all(copies)) expect(sha256Digest(manifest)).toBe(image.digest);
  });
});

describe('airgap collect from a serve, airgap load into a --writable serve over HTTPS', () => {
  let ca: CertificateAuthority;
  let privateRegistry: RunningServer;
  let carried: string;
  let lock: Lock;

  beforeAll(async () => {
    ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
    privateRegistry = await startServer({ listen: '127.0.0.1:0', writable: true, tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
    const list = join(tmp.path, 'images.txt');
    await writeFile(list, images.map((i) => `${refOf(upstream, i)}\n`).join(''));
    carried = join(tmp.path, 'carried');
    const collected = await runAirgap(['collect', list, '-o', carried, '--plain-http', upstream.host]);
    expect(collected.stderr).toBe('');
    expect(collected.code).toBe(0);
    lock = JSON.parse(await readFile(join(carried, 'airgap-lock.json'), 'utf8')) as Lock;
  });
  afterAll(async () => {
    await privateRegistry?.close();
  });

  it('collects every image with the digest it was built with', () => {
    for (const image of images) expect(lock.images.find((i) => i.path === `${image.repository}:${image.tag}`)?.digest).toBe(image.digest);
  });

  it('loads every image, digests unchanged, and a re-run finds them all in place', async () => {
    const loaded = await runAirgap(['load', carried, '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--charms-dir', join(tmp.path, 'charms')]);
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(0);
    for (const image of images) {
      expect(sha256Digest(await inspectRaw(refOf(privateRegistry, image), { caFile: ca.caFile }))).toBe(image.digest);
    }
    const again = await runAirgap(['load', carried, '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--charms-dir', join(tmp.path, 'charms'), '--json']);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout) as { images: { alreadyPresent: boolean }[]; uploadedBlobs: number };
    expect(result.images.every((i) => i.alreadyPresent)).toBe(true);
    expect(result.uploadedBlobs).toBe(0);
  });

  it('serves the --per-image layout of images.tar.gz too', async () => {
    const perImage = join(tmp.path, 'per-image');
    const collected = await runAirgap(['collect', join(tmp.path, 'images.txt'), '-o', perImage, '--plain-http', upstream.host, '--per-image']);
    expect(collected.code).toBe(0);
    const server = await startServer({ source: perImage, listen: '127.0.0.1:0' });
    try {
      for (const image of images) expect(sha256Digest(await inspectRaw(refOf(server, image)))).toBe(image.digest);
    } finally {
      await server.close();
    }
  });

  it('`airgap serve images.tar.gz` (the CLI) serves the carried archive, and stops cleanly on SIGTERM', async () => {
    const store = join(tmp.path, 'cli-store');
    const child = spawn(process.execPath, [AIRGAP_BIN, 'serve', join(carried, 'images.tar.gz'), '--listen', '127.0.0.1:0', '--store', store], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      const host = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d;
          const match = /^Serving \d+ images at http:\/\/(\S+) /m.exec(stdout);
          if (match?.[1] !== undefined) resolve(match[1]);
        });
        void exited.then((code) => reject(new Error(`airgap serve exited ${code}: ${stderr}`)));
      });
      expect(stdout).toMatch(/unpacked 6 images .*blobs written/);
      for (const image of images) expect(sha256Digest(await inspectRaw(`${host}/${image.repository}:${image.tag}`))).toBe(image.digest);
      // Off a terminal, one log line per request.
      expect(stdout).toMatch(/ 127\.0\.0\.1 - GET \/v2\/airgap-test\/app-a\/manifests\/1\.0 200 \d+ \d+ms/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stdout).toContain('stopped');
  });
});

describe('a real dockerd pulling from and pushing to airgap serve', () => {
  let dockerd: RunningDockerd;
  let writable: RunningServer;
  beforeAll(async () => {
    [dockerd, writable] = await Promise.all([
      startDockerd(join(tmp.path, 'd')),
      startServer({ listen: '127.0.0.1:0', writable: true }),
    ]);
  });
  afterAll(async () => {
    await dockerd?.stop();
    await writable?.close();
  });

  it('docker pull: single images, a Docker-format image and the multi-arch index (amd64 picked)', async () => {
    for (const image of images.filter((i) => ['airgap-test/app-a', 'airgap-test/docker-format', 'airgap-test/multi'].includes(i.repository))) {
      const output = (await dockerd.docker(['pull', refOf(upstream, image)])).stdout.toString('utf8');
      expect(output, image.repository).toContain(`Digest: ${image.digest}`);
      const inspected = JSON.parse((await dockerd.docker(['image', 'inspect', refOf(upstream, image)])).stdout.toString('utf8')) as { RootFS: { Layers: string[] }; Architecture: string }[];
      const amd64 = image.manifests.find((m) => !m.attestation && (m.platform === undefined || m.platform.architecture === 'amd64'));
      expect(inspected[0]?.RootFS.Layers).toEqual(amd64?.diffIds);
    }
  });

  it('serves a `docker save` archive (Docker 20.10: no registry manifests), making them from the configs', async () => {
    const chosen = images.filter((i) => i.repository === 'airgap-test/app-a' || i.repository === 'airgap-test/docker-format');
    const saved = join(tmp.path, 'saved.tar');
    await dockerd.docker(['save', '-o', saved, ...chosen.map((i) => refOf(upstream, i))]);
    const server = await startServer({ source: saved, listen: '127.0.0.1:0' });
    try {
      for (const image of chosen) {
        const manifest = JSON.parse((await inspectRaw(refOf(server, image))).toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
        const built = image.manifests[0];
        // docker save keeps the config and the uncompressed layers: their digests are the config's and its diff_ids.
        expect(manifest.config.digest).toBe(built?.config.digest);
        expect(manifest.layers.map((l) => l.digest)).toEqual(built?.diffIds);
        const out = join(tmp.path, 'from-saved', image.repository.replaceAll('/', '_'));
        await mkdir(out, { recursive: true });
        await skopeo(['copy', '--quiet', ...PLAIN, `docker://${refOf(server, image)}`, `dir:${out}`]);
      }
    } finally {
      await server.close();
    }
  });

  it('docker push into a --writable serve, then pulls it back by the digest docker reported', async () => {
    const appA = images.find((i) => i.repository === 'airgap-test/app-a') as BuiltImage;
    const target = `${writable.host}/pushed/app-a:v1`;
    await dockerd.docker(['tag', refOf(upstream, appA), target]);
    const output = (await dockerd.docker(['push', target])).stdout.toString('utf8');
    const digest = /digest: (sha256:[a-f0-9]{64})/.exec(output)?.[1];
    expect(digest, output).toBeDefined();
    expect(sha256Digest(await inspectRaw(target))).toBe(digest);
    // A second repository of the same image: docker mounts the layers across instead of sending them again.
    const second = `${writable.host}/pushed/app-a-copy:v1`;
    await dockerd.docker(['tag', refOf(upstream, appA), second]);
    const again = (await dockerd.docker(['push', second])).stdout.toString('utf8');
    expect(again).toMatch(/Mounted from pushed\/app-a/);
    await dockerd.docker(['rmi', target, second, refOf(upstream, appA)]);
    const pulled = (await dockerd.docker(['pull', `${writable.host}/pushed/app-a@${digest ?? ''}`])).stdout.toString('utf8');
    expect(pulled).toContain(`Digest: ${digest ?? ''}`);
  });
});
