/**
 * Smoke test of the test environment itself: real docker-registry servers (HTTP, HTTPS, htpasswd), images
 * pushed by skopeo and read back byte for byte, a refused untrusted CA, and a real dockerd that pulls the
 * generated images (so their layers and diff_ids are right by Docker's own checks).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificateAuthority, makeUntrustedCertificateAuthority } from './ca.ts';
import type { CertificateAuthority } from './ca.ts';
import { dockerAvailable, startDockerd, trustRegistryInDocker } from './dockerd.ts';
import { MediaTypes, buildOciLayout, demoImageSet, pushTestImages } from './images.ts';
import type { PushedImage } from './images.ts';
import { CommandError } from './process.ts';
import { startRegistry } from './registry.ts';
import type { RunningRegistry } from './registry.ts';
import { inspectRaw, sha256Digest, skopeo } from './skopeo.ts';
import { useTempDir, makeTempDir } from './tmp.ts';

const USER = 'airgap';
const PASSWORD = 'correct horse: battery staple';

interface IndexJson {
  mediaType?: string;
  manifests: { mediaType: string; digest: string; platform?: { os: string; architecture: string; variant?: string }; annotations?: Record<string, string> }[];
}

async function failureOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err: unknown) {
    return err instanceof CommandError ? err.stderr : String(err);
  }
  throw new Error('expected a failure, got success');
}

const tmp = useTempDir();
let ca: CertificateAuthority;
let untrusted: CertificateAuthority;
let plain: RunningRegistry;
let tls: RunningRegistry;
let auth: RunningRegistry;
let pushed: PushedImage[];
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [ca, untrusted] = await Promise.all([makeCertificateAuthority(join(tmp.path, 'ca')), makeUntrustedCertificateAuthority(tmp.path)]);
  const started = await Promise.allSettled([
    startRegistry(),
    startRegistry({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } }),
    startRegistry({ htpasswd: { username: USER, password: PASSWORD } }),
  ]);
  for (const s of started) if (s.status === 'fulfilled') stops.push(s.value.stop);
  const [p, t, a] = started.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
  if (p === undefined || t === undefined || a === undefined) throw new Error('a registry did not start');
  [plain, tls, auth] = [p, t, a];
  pushed = await pushTestImages(plain, demoImageSet());
});

afterAll(async () => {
  await Promise.all(stops.map((stop) => stop()));
});

function image(repository: string, list: PushedImage[] = pushed): PushedImage {
  const found = list.find((i) => i.repository === repository);
  if (found === undefined) throw new Error(`no pushed image ${repository}`);
  return found;
}

describe('generated images', () => {
  it('are real gzip tar layers whose diff_ids match, sharing the base layer once', async () => {
    const dir = join(tmp.path, 'layout');
    const built = await buildOciLayout(dir, demoImageSet());
    const blob = (digest: string): Promise<Buffer> => readFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    for (const img of built) {
      for (const m of img.manifests.filter((x) => !x.attestation)) {
        const config = JSON.parse((await blob(m.config.digest)).toString('utf8')) as { rootfs: { diff_ids: string[] }; architecture: string };
        expect(config.rootfs.diff_ids).toEqual(m.diffIds);
        for (const [i, layer] of m.layers.entries()) {
          const bytes = await blob(layer.digest);
          expect(sha256Digest(bytes)).toBe(layer.digest);
          expect(bytes.length).toBe(layer.size);
          expect(`sha256:${createHash('sha256').update(gunzipSync(bytes)).digest('hex')}`).toBe(m.diffIds[i]);
        }
      }
    }
    const baseLayer = built[0]?.manifests[0]?.layers[0]?.digest;
    expect(baseLayer).toBeDefined();
    for (const img of built.slice(0, 4)) expect(img.blobs).toContain(baseLayer);
    // skopeo reads our layout (OCI-typed entries; it ignores Docker-typed ones in an OCI layout).
    const raw = (await skopeo(['inspect', '--raw', `oci:${dir}:airgap-test/team/app-b:v2.1.0`])).stdout;
    expect(sha256Digest(raw)).toBe(image('airgap-test/team/app-b').digest);
  });
});

describe('plain HTTP registry', () => {
  it('serves what skopeo pushed, byte for byte', async () => {
    expect(pushed.map((p) => p.reference)).toEqual(demoImageSet().map((s) => `${plain.host}/${s.repository}:${s.tag}`));
    for (const p of pushed) {
      expect(sha256Digest(await inspectRaw(p.reference))).toBe(p.digest);
    }
    const docker = image('airgap-test/docker-format');
    expect(docker.mediaType).toBe(MediaTypes.dockerManifest);
    const served = JSON.parse((await inspectRaw(docker.reference)).toString('utf8')) as { mediaType: string; layers: { mediaType: string }[] };
    expect(served.mediaType).toBe(MediaTypes.dockerManifest);
    expect(served.layers[0]?.mediaType).toBe(MediaTypes.dockerLayerGzip);
    // A shared layer is served by every repository that uses it.
    const base = pushed[0]?.manifests[0]?.layers[0]?.digest ?? '';
    const res = await fetch(`${plain.url}/v2/airgap-test/app-c/blobs/${base}`);
    expect(res.status).toBe(200);
    expect(sha256Digest(Buffer.from(await res.arrayBuffer()))).toBe(base);
  });

  it('keeps the multi-arch index with its attestation entry', async () => {
    const multi = image('airgap-test/multi');
    expect(multi.mediaType).toBe(MediaTypes.ociIndex);
    const index = JSON.parse((await inspectRaw(multi.reference)).toString('utf8')) as IndexJson;
    expect(index.mediaType).toBe(MediaTypes.ociIndex);
    expect(index.manifests.map((m) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'unknown', architecture: 'unknown' },
    ]);
    expect(index.manifests[2]?.annotations?.['vnd.docker.reference.type']).toBe('attestation-manifest');
    expect(index.manifests[2]?.annotations?.['vnd.docker.reference.digest']).toBe(index.manifests[0]?.digest);
    for (const child of index.manifests) {
      const raw = await inspectRaw(`${plain.host}/airgap-test/multi@${child.digest}`);
      expect(sha256Digest(raw)).toBe(child.digest);
    }
    expect(multi.manifests.map((m) => m.attestation)).toEqual([false, false, true]);
  });
});

describe('HTTPS registry with a test CA', () => {
  it('accepts pushes and reads verified with the CA', async () => {
    const images = await pushTestImages(tls, demoImageSet().slice(3, 5), { caFile: ca.caFile });
    for (const p of images) expect(sha256Digest(await inspectRaw(p.reference, { caFile: ca.caFile }))).toBe(p.digest);
    expect(tls.url).toBe(`https://${tls.host}`);
  });

  it('is refused with an unrelated CA, or with the system roots only', async () => {
    const ref = `${tls.host}/airgap-test/app-c:latest`;
    expect(await failureOf(inspectRaw(ref, { caFile: untrusted.caFile }))).toMatch(/x509|certificate/i);
    expect(await failureOf(inspectRaw(ref, { tlsVerify: true }))).toMatch(/x509|certificate/i);
  });
});

describe('htpasswd registry', () => {
  it('accepts the right credentials only', async () => {
    const [p] = await pushTestImages(auth, demoImageSet().slice(0, 1), { username: USER, password: PASSWORD });
    if (p === undefined) throw new Error('nothing pushed');
    expect(sha256Digest(await inspectRaw(p.reference, { username: USER, password: PASSWORD }))).toBe(p.digest);
    expect(await failureOf(inspectRaw(p.reference))).toMatch(/unauthori[sz]ed|authentication required/i);
    expect(await failureOf(inspectRaw(p.reference, { username: USER, password: 'wrong' }))).toMatch(/unauthori[sz]ed|authentication required/i);
    expect(auth.logs()).toContain('GET /v2/');
  });
});

describe('dockerd', () => {
  it('starts on a private socket and pulls the generated images', async (context) => {
    const reason = await dockerAvailable();
    // CI installs docker.io and runs as root: there it must run. Elsewhere, say why it cannot.
    if (reason !== undefined && process.env['CI'] === undefined) context.skip(reason);
    expect(reason).toBeUndefined();

    const dir = await makeTempDir('airgap-dockerd-');
    const daemon = await startDockerd(dir.path);
    stops.push(daemon.stop);
    const version = (await daemon.docker(['version', '--format', '{{.Server.Version}}'])).stdout.toString('utf8').trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+/);

    // Docker checks every layer against the config's diff_ids: a pull proves the generated images are sound.
    for (const repository of ['airgap-test/team/app-b', 'airgap-test/multi', 'airgap-test/docker-format']) {
      const p = image(repository);
      await daemon.docker(['pull', '--quiet', p.reference]);
      const inspected = JSON.parse((await daemon.docker(['image', 'inspect', p.reference])).stdout.toString('utf8')) as {
        RootFS: { Layers: string[] };
        Architecture: string;
      }[];
      const amd64 = p.manifests.find((m) => m.platform === undefined || m.platform.architecture === 'amd64');
      expect(inspected[0]?.RootFS.Layers).toEqual(amd64?.diffIds);
      expect(inspected[0]?.Architecture).toBe('amd64');
    }

    await daemon.docker(['login', '--username', USER, '--password-stdin', auth.host], { input: PASSWORD });
    await pushTestImages(auth, demoImageSet().slice(1, 2), { username: USER, password: PASSWORD });
    await daemon.docker(['pull', '--quiet', `${auth.host}/airgap-test/app-a:1.0`]);

    if (process.getuid?.() === 0) {
      const untrust = await trustRegistryInDocker(tls.host, ca.caFile);
      try {
        await daemon.docker(['pull', '--quiet', `${tls.host}/airgap-test/app-c:latest`]);
      } finally {
        await untrust();
      }
    }

    await daemon.stop();
    await dir.remove();
  });
});
