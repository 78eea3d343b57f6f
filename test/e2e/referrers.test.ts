/**
 * `collect --with-referrers` and `load` carrying signatures, SBOMs and attestations (issue 13 item 4), on real
 * servers: a loopback docker-registry 2.8 (no referrers API) holding cosign's tag convention and an OCI 1.1
 * referrer kept in the referrers tag schema, and `airgap serve --writable` (OCI 1.1) holding referrers with a
 * `subject`, one of them about another. Collected from both, loaded into a fresh docker-registry and a fresh
 * serve, read back through serve's referrers API and with skopeo: every digest unchanged.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lock, LockedReferrer } from '../../src/lock.ts';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { runAirgap } from '../support/airgap-cli.ts';
import { unpackTarGz } from '../support/archive.ts';
import { OCI_INDEX, pushCosignArtifact, pushOciReferrer, type PushedArtifact, type Subject } from '../support/artifacts.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { seedImages } from '../support/seed.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';

const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SBOM = 'application/spdx+json';

const tmp = useTempDir('airgap-referrers-');
let upstream: RunningRegistry;
let serveUpstream: RunningServer;
let app: Subject;
let multi: PushedImage;
let served: Subject;
/** What each upstream holds about its images. */
const made: Record<string, PushedArtifact> = {};
let carried: string;
let lock: Lock;

interface Index {
  manifests: { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }[];
}

const hex = (digest: string): string => digest.slice('sha256:'.length);

async function referrersOf(base: string, name: string, digest: string): Promise<Index> {
  const res = await fetch(`${base}/v2/${name}/referrers/${digest}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Index;
}

async function manifestAt(base: string, name: string, reference: string): Promise<{ status: number; index: Index | undefined }> {
  const res = await fetch(`${base}/v2/${name}/manifests/${reference}`, { headers: { accept: OCI_INDEX } });
  if (res.status !== 200) {
    await res.arrayBuffer();
    return { status: res.status, index: undefined };
  }
  return { status: 200, index: (await res.json()) as Index };
}

beforeAll(async () => {
  upstream = await startRegistry();
  serveUpstream = await startServer({ listen: '127.0.0.1:0', writable: true, store: join(tmp.path, 'upstream-store') });
  const base = upstream.url;
  const [seeded] = await seedImages(base, ['team/app:1.0']);
  const appRaw = await inspectRaw(`${upstream.host}/team/app:1.0`, { tlsVerify: false });
  app = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: seeded?.digest ?? '', size: appRaw.length };
  const [pushed] = await pushTestImages(upstream, demoImageSet().filter((s) => s.repository === 'airgap-test/multi'), { tlsVerify: false });
  if (pushed === undefined) throw new Error('no multi-arch test image');
  multi = pushed;

  // docker-registry 2.8: cosign's three tags, an OCI 1.1 SBOM in the referrers tag schema, and a signature of one
  // platform's manifest (cosign sign --recursive).
  made['app.sig'] = await pushCosignArtifact(base, 'team/app', app, 'sig');
  made['app.att'] = await pushCosignArtifact(base, 'team/app', app, 'att');
  made['app.sbom'] = await pushCosignArtifact(base, 'team/app', app, 'sbom');
  made['app.oci-sbom'] = await pushOciReferrer(base, 'team/app', app, SBOM, '{"spdxVersion":"SPDX-2.3","name":"app"}', { referrersTag: true });
  const arm = multi.manifests.find((m) => m.platform?.architecture === 'arm64');
  if (arm === undefined) throw new Error('no arm64 manifest in the multi-arch test image');
  made['multi-arm.sig'] = await pushCosignArtifact(base, 'airgap-test/multi', { mediaType: arm.mediaType, digest: arm.digest, size: arm.size }, 'sig');

  // serve --writable, OCI 1.1: a signature and an SBOM with a subject, and a signature of that SBOM.
  const [c] = await seedImages(serveUpstream.url, ['team/c:1.0']);
  served = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: c?.digest ?? '', size: (await inspectRaw(`${serveUpstream.host}/team/c:1.0`, { tlsVerify: false })).length };
  made['c.sig'] = await pushOciReferrer(serveUpstream.url, 'team/c', served, SIG, 'signature of c');
  made['c.sbom'] = await pushOciReferrer(serveUpstream.url, 'team/c', served, SBOM, '{"spdxVersion":"SPDX-2.3","name":"c"}');
  made['c.sbom.sig'] = await pushOciReferrer(serveUpstream.url, 'team/c', made['c.sbom'], SIG, 'signature of the SBOM of c');

  const list = join(tmp.path, 'images.txt');
  await writeFile(list, [`${upstream.host}/team/app:1.0`, `${upstream.host}/airgap-test/multi:1.0`, `${serveUpstream.host}/team/c:1.0`, ''].join('\n'));
  carried = join(tmp.path, 'carried');
  const result = await runAirgap(['collect', list, '-o', carried, '--with-referrers', '--plain-http', upstream.host, '--plain-http', serveUpstream.host]);
  if (result.code !== 0) throw new Error(result.stderr);
  expect(result.stdout).toContain('Collected 3 images with 8 referrers');
  lock = JSON.parse(await readFile(join(carried, 'airgap-lock.json'), 'utf8')) as Lock;
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), serveUpstream?.close()]);
});

const byDigest = (referrers: LockedReferrer[] | undefined): Record<string, Omit<LockedReferrer, 'digest' | 'size' | 'mediaType'>> =>
  Object.fromEntries((referrers ?? []).map(({ digest, size: _size, mediaType: _type, ...rest }) => [digest, rest]));

describe('collect --with-referrers', () => {
  it('finds cosign\'s tags and the referrers tag schema on docker-registry 2.8, and the referrers API of serve, a referrer of a referrer included', () => {
    const [appLocked, multiLocked, cLocked] = lock.images;
    expect(byDigest(appLocked?.referrers)).toEqual({
      [made['app.sig']?.digest ?? '']: { subject: app.digest, found: 'tag', tag: `sha256-${hex(app.digest)}.sig`, artifactType: 'application/vnd.oci.image.config.v1+json' },
      [made['app.att']?.digest ?? '']: { subject: app.digest, found: 'tag', tag: `sha256-${hex(app.digest)}.att`, artifactType: 'application/vnd.oci.image.config.v1+json' },
      [made['app.sbom']?.digest ?? '']: { subject: app.digest, found: 'tag', tag: `sha256-${hex(app.digest)}.sbom`, artifactType: 'application/vnd.oci.image.config.v1+json' },
      [made['app.oci-sbom']?.digest ?? '']: { subject: app.digest, found: 'referrers-tag', artifactType: SBOM },
    });
    const arm = multi.manifests.find((m) => m.platform?.architecture === 'arm64');
    expect(byDigest(multiLocked?.referrers)).toEqual({
      [made['multi-arm.sig']?.digest ?? '']: { subject: arm?.digest, found: 'tag', tag: `sha256-${hex(arm?.digest ?? '')}.sig`, artifactType: 'application/vnd.oci.image.config.v1+json' },
    });
    expect(byDigest(cLocked?.referrers)).toEqual({
      [made['c.sig']?.digest ?? '']: { subject: served.digest, found: 'referrers-api', artifactType: SIG },
      [made['c.sbom']?.digest ?? '']: { subject: served.digest, found: 'referrers-api', artifactType: SBOM },
      [made['c.sbom.sig']?.digest ?? '']: { subject: made['c.sbom']?.digest, found: 'referrers-api', artifactType: SIG },
    });
    for (const r of lock.images.flatMap((i) => i.referrers ?? [])) expect(r.size).toBeGreaterThan(0);
  });

  it('writes them into images.tar.gz: every blob once, index.json entries that name no image, manifest.json the images only', async () => {
    const dir = join(tmp.path, 'unpacked');
    const members = await unpackTarGz(join(carried, 'images.tar.gz'), dir);
    const names = members.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const artifact of Object.values(made)) {
      const bytes = await readFile(join(dir, 'blobs', 'sha256', hex(artifact.digest)));
      expect(sha256Digest(bytes)).toBe(artifact.digest);
    }
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as Index;
    const referrerEntries = index.manifests.filter((m) => m.annotations?.['dev.airgap.referrer.of'] !== undefined);
    expect(referrerEntries).toHaveLength(8);
    for (const entry of referrerEntries) {
      expect(entry.annotations?.['org.opencontainers.image.ref.name']).toBeUndefined();
      expect(entry.annotations?.['io.containerd.image.name']).toBeUndefined();
    }
    expect(referrerEntries.find((e) => e.digest === made['app.sig']?.digest)?.annotations).toEqual({
      'dev.airgap.referrer.of': 'team/app:1.0', 'dev.airgap.referrer.subject': app.digest, 'dev.airgap.referrer.tag': `sha256-${hex(app.digest)}.sig`,
    });
    expect(referrerEntries.find((e) => e.digest === made['c.sbom.sig']?.digest)).toMatchObject({ artifactType: SIG, annotations: { 'dev.airgap.referrer.of': 'team/c:1.0', 'dev.airgap.referrer.subject': made['c.sbom']?.digest } });
    const dockerManifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as unknown[];
    expect(dockerManifest).toHaveLength(3);
  });

  it('verify reads the archive with its referrers as the lock records it: every blob checked, each credited to its image', async () => {
    const result = await runAirgap(['verify', carried, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; blobs: { checked: number; expected: number }; problems: unknown[] };
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.blobs.checked).toBe(report.blobs.expected);
    // A referrer's own blobs are in the lock, needed by the image it belongs to (never by a path of its own).
    const paths = lock.images.map((i) => i.path);
    expect(paths).toHaveLength(3);
    for (const artifact of Object.values(made)) {
      const entry = lock.blobs?.find((b) => b.digest === artifact.digest);
      expect(entry?.images.length).toBeGreaterThan(0);
      for (const image of entry?.images ?? []) expect(paths).toContain(image);
    }
  });

  it('without the flag: no referrer in the lock or the archive', async () => {
    const out = join(tmp.path, 'plain');
    const result = await runAirgap(['collect', join(tmp.path, 'images.txt'), '-o', out, '--plain-http', upstream.host, '--plain-http', serveUpstream.host]);
    expect(result.code).toBe(0);
    const plain = JSON.parse(await readFile(join(out, 'airgap-lock.json'), 'utf8')) as Lock;
    expect(plain.images.map((i) => i.referrers)).toEqual([undefined, undefined, undefined]);
    expect(plain.images.map((i) => i.digest)).toEqual(lock.images.map((i) => i.digest));
  });
});

describe('airgap serve images.tar.gz serves them as they were', () => {
  it('lists the referrers with a subject through its referrers API and answers cosign\'s tags', async () => {
    const server = await startServer({ source: join(carried, 'images.tar.gz'), listen: '127.0.0.1:0', store: join(tmp.path, 'serve-archive-store') });
    try {
      expect((await referrersOf(server.url, 'team/app', app.digest)).manifests.map((m) => [m.digest, m.artifactType])).toEqual([[made['app.oci-sbom']?.digest, SBOM]]);
      expect((await referrersOf(server.url, 'team/c', served.digest)).manifests.map((m) => m.digest).sort()).toEqual([made['c.sig']?.digest, made['c.sbom']?.digest].sort());
      expect(sha256Digest(await inspectRaw(`${server.host}/team/app:sha256-${hex(app.digest)}.att`, { tlsVerify: false }))).toBe(made['app.att']?.digest);
    } finally {
      await server.close();
    }
  });
});

describe('load pushes them after their images', () => {
  it('into docker-registry 2.8: cosign\'s tags as tags, the others by digest and in the subject\'s referrers tag index; digests unchanged (skopeo); a re-run sends nothing', async () => {
    const target = await startRegistry();
    try {
      const loaded = await runAirgap(['load', carried, '--registry', target.host, '--plain-http', target.host, '--charms-dir', join(tmp.path, 'charms-1'), '--json']);
      if (loaded.code !== 0) throw new Error(loaded.stderr);
      const result = JSON.parse(loaded.stdout) as { images: unknown[]; referrers: { of: string; private: string; digest: string }[] };
      expect(result.images).toHaveLength(3);
      expect(result.referrers).toHaveLength(8);
      for (const kind of ['sig', 'att', 'sbom']) {
        const raw = await inspectRaw(`${target.host}/team/app:sha256-${hex(app.digest)}.${kind}`, { tlsVerify: false });
        expect(sha256Digest(raw)).toBe(made[`app.${kind}`]?.digest);
      }
      for (const key of ['app.oci-sbom', 'c.sig', 'c.sbom', 'c.sbom.sig']) {
        const name = key.startsWith('app') ? 'team/app' : 'team/c';
        expect(sha256Digest(await inspectRaw(`${target.host}/${name}@${made[key]?.digest ?? ''}`, { tlsVerify: false }))).toBe(made[key]?.digest);
      }
      // docker-registry has no referrers API: the referrers tag schema is where clients look, so load keeps it.
      const appIndex = await manifestAt(target.url, 'team/app', `sha256-${hex(app.digest)}`);
      expect(appIndex.index?.manifests.map((m) => [m.digest, m.artifactType])).toEqual([[made['app.oci-sbom']?.digest, SBOM]]);
      const cIndex = await manifestAt(target.url, 'team/c', `sha256-${hex(served.digest)}`);
      expect(cIndex.index?.manifests.map((m) => m.digest).sort()).toEqual([made['c.sig']?.digest, made['c.sbom']?.digest].sort());
      const sbomIndex = await manifestAt(target.url, 'team/c', `sha256-${hex(made['c.sbom']?.digest ?? '')}`);
      expect(sbomIndex.index?.manifests.map((m) => m.digest)).toEqual([made['c.sbom.sig']?.digest]);
      expect(sha256Digest(await inspectRaw(`${target.host}/airgap-test/multi:1.0`, { tlsVerify: false }))).toBe(multi.digest);

      const again = await runAirgap(['load', carried, '--registry', target.host, '--plain-http', target.host, '--charms-dir', join(tmp.path, 'charms-1'), '--json']);
      if (again.code !== 0) throw new Error(again.stderr);
      const second = JSON.parse(again.stdout) as { uploadedBlobs: number; referrers: { alreadyPresent: boolean }[] };
      expect(second.uploadedBlobs).toBe(0);
      expect(second.referrers.every((r) => r.alreadyPresent)).toBe(true);
      expect((await manifestAt(target.url, 'team/app', `sha256-${hex(app.digest)}`)).index?.manifests).toHaveLength(1);
    } finally {
      await target.stop();
    }
  });

  it('into airgap serve --writable: its referrers API lists them, no referrers tag is written, cosign\'s tags resolve', async () => {
    const target = await startServer({ listen: '127.0.0.1:0', writable: true, store: join(tmp.path, 'load-store') });
    try {
      const loaded = await runAirgap(['load', carried, '--registry', target.host, '--plain-http', target.host, '--charms-dir', join(tmp.path, 'charms-2')]);
      if (loaded.code !== 0) throw new Error(loaded.stderr);
      expect(loaded.stdout).toContain('Loaded 3 images and 8 referrers');
      const appReferrers = await referrersOf(target.url, 'team/app', app.digest);
      expect(appReferrers.manifests).toEqual([expect.objectContaining({ digest: made['app.oci-sbom']?.digest, artifactType: SBOM, annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } })]);
      expect((await referrersOf(target.url, 'team/c', served.digest)).manifests.map((m) => [m.digest, m.artifactType]).sort()).toEqual([[made['c.sig']?.digest, SIG], [made['c.sbom']?.digest, SBOM]].sort());
      expect((await referrersOf(target.url, 'team/c', made['c.sbom']?.digest ?? '')).manifests.map((m) => m.digest)).toEqual([made['c.sbom.sig']?.digest]);
      expect((await manifestAt(target.url, 'team/app', `sha256-${hex(app.digest)}`)).status).toBe(404);
      expect(sha256Digest(await inspectRaw(`${target.host}/team/app:sha256-${hex(app.digest)}.sig`, { tlsVerify: false }))).toBe(made['app.sig']?.digest);
      const arm = multi.manifests.find((m) => m.platform?.architecture === 'arm64');
      expect(sha256Digest(await inspectRaw(`${target.host}/airgap-test/multi:sha256-${hex(arm?.digest ?? '')}.sig`, { tlsVerify: false }))).toBe(made['multi-arm.sig']?.digest);
      expect(sha256Digest(await inspectRaw(`${target.host}/team/c:1.0`, { tlsVerify: false }))).toBe(served.digest);
    } finally {
      await target.close();
    }
  });

  it('--per-image: each image\'s tar holds its referrers, and load pushes them from there', async () => {
    const dir = join(tmp.path, 'per-image');
    const collected = await runAirgap(['collect', join(tmp.path, 'images.txt'), '-o', dir, '--with-referrers', '--per-image', '--plain-http', upstream.host, '--plain-http', serveUpstream.host]);
    if (collected.code !== 0) throw new Error(collected.stderr);
    const unpacked = join(tmp.path, 'per-image-unpacked');
    expect((await unpackTarGz(join(dir, 'images.tar.gz'), unpacked)).map((m) => m.name)).toEqual(['team_app_1.0.tar', 'airgap-test_multi_1.0.tar', 'team_c_1.0.tar']);
    const target = await startServer({ listen: '127.0.0.1:0', writable: true, store: join(tmp.path, 'per-image-store') });
    try {
      const loaded = await runAirgap(['load', dir, '--registry', target.host, '--plain-http', target.host, '--charms-dir', join(tmp.path, 'charms-4')]);
      if (loaded.code !== 0) throw new Error(loaded.stderr);
      expect(loaded.stdout).toContain('Loaded 3 images and 8 referrers');
      expect((await referrersOf(target.url, 'team/c', made['c.sbom']?.digest ?? '')).manifests.map((m) => m.digest)).toEqual([made['c.sbom.sig']?.digest]);
      expect(sha256Digest(await inspectRaw(`${target.host}/team/app:sha256-${hex(app.digest)}.sbom`, { tlsVerify: false }))).toBe(made['app.sbom']?.digest);
    } finally {
      await target.close();
    }
  });

  it('holds them to the lock: a referrer the lock does not record stops the load before anything is pushed', async () => {
    const dir = join(tmp.path, 'tampered');
    await runAirgap(['collect', join(tmp.path, 'images.txt'), '-o', dir, '--with-referrers', '--plain-http', upstream.host, '--plain-http', serveUpstream.host]);
    const tampered = JSON.parse(await readFile(join(dir, 'airgap-lock.json'), 'utf8')) as Lock;
    const appImage = tampered.images[0];
    if (appImage?.referrers === undefined) throw new Error('no referrers collected');
    appImage.referrers = appImage.referrers.filter((r) => r.digest !== made['app.sig']?.digest);
    await writeFile(join(dir, 'airgap-lock.json'), JSON.stringify(tampered));
    const target = await startRegistry();
    try {
      const loaded = await runAirgap(['load', dir, '--registry', target.host, '--plain-http', target.host, '--charms-dir', join(tmp.path, 'charms-3')]);
      expect(loaded.code).toBe(1);
      expect(loaded.stderr).toContain(`holds referrer ${made['app.sig']?.digest ?? ''} (tag sha256-${hex(app.digest)}.sig) of image team/app:1.0, which airgap-lock.json does not record: nothing was pushed or tagged`);
      expect((await fetch(`${target.url}/v2/_catalog`).then((r) => r.json())) as unknown).toEqual({ repositories: [] });
    } finally {
      await target.stop();
    }
  });
});
