/**
 * Docker Hub's one-segment names also under library/ (src/load/hub-aliases.ts): a workload naming busybox:1.28
 * is pulled by containerd as docker.io/library/busybox:1.28, and through the docker.io mirror that `airgap
 * config containerd --mirror-for docker.io` writes it asks the private registry for library/busybox (the
 * rendered hosts.toml is proven by real containerd in containerd-hosts.test.ts). The release is collected
 * from a real docker-registry standing in for Docker Hub and registry.k8s.io (`--mirror`), loaded into
 * another, and read back with skopeo.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadResult } from '../../src/load/load.ts';
import { hubLibraryAliases } from '../../src/load/hub-aliases.ts';
import type { Lock, LockedImage } from '../../src/lock.ts';
import { runAirgap } from '../support/airgap-cli.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { seedImages } from '../support/seed.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-hub-alias-');
let upstream: RunningRegistry;
let privateRegistry: RunningRegistry;
let out: string;
let seeded: Map<string, string>;

function lockOf(images: Partial<LockedImage>[]): Lock {
  return { images } as Lock;
}

beforeAll(async () => {
  [upstream, privateRegistry] = await Promise.all([startRegistry(), startRegistry()]);
  // Where --mirror HOST=UPSTREAM/HOST looks: UPSTREAM/docker.io/library/busybox:1.28 for busybox:1.28.
  const images = await seedImages(`http://${upstream.host}`, [
    'docker.io/library/busybox:1.28', 'docker.io/library/redis:7', 'docker.io/team/app:1.0', 'registry.k8s.io/pause:3.9',
  ]);
  seeded = new Map(images.map((i) => [i.name, i.digest]));
  const list = join(tmp.path, 'images.txt');
  // One-segment and Docker Hub; written with library/ already; two segments; one segment but not Docker Hub.
  await writeFile(list, 'busybox:1.28\ndocker.io/library/redis:7\nteam/app:1.0\nregistry.k8s.io/pause:3.9\n');
  out = join(tmp.path, 'out');
  const collected = await runAirgap(['collect', list, '-o', out, '--plain-http', upstream.host, '--no-juju-images',
    '--mirror', `docker.io=${upstream.host}/docker.io`, '--mirror', `registry.k8s.io=${upstream.host}/registry.k8s.io`]);
  expect(collected.code, collected.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await Promise.all([upstream?.stop(), privateRegistry?.stop()]);
});

describe('which images get a library/ name', () => {
  it('only Docker Hub images under a one-segment path, and only with a lock to say where they came from', () => {
    const lock = lockOf([
      { path: 'busybox:1.28', upstream: 'docker.io/busybox:1.28' },
      { path: 'busybox@sha256:' + 'a'.repeat(64), upstream: 'busybox@sha256:' + 'a'.repeat(64) },
      { path: 'library/redis:7', upstream: 'docker.io/library/redis:7' },
      { path: 'team/app:1.0', upstream: 'docker.io/team/app:1.0' },
      { path: 'pause:3.9', upstream: 'registry.k8s.io/pause:3.9' },
      // A placeholder reference whose upstream is Docker Hub: the path decides where it lives.
      { path: 'nginx:1.25', upstream: 'index.docker.io/library/nginx:1.25' },
      // The release carries library/alpine:3 itself: no second name for alpine:3.
      { path: 'alpine:3', upstream: 'docker.io/alpine:3' },
      { path: 'library/alpine:3', upstream: 'docker.io/library/alpine:3' },
      // Mapped from another Docker Hub repository: a workload naming nginx means library/nginx, not this.
      { path: 'web:2', upstream: 'docker.io/someorg/web:2' },
    ]);
    expect([...hubLibraryAliases(lock)]).toEqual([
      ['busybox:1.28', 'library/busybox:1.28'],
      [`busybox@sha256:${'a'.repeat(64)}`, `library/busybox@sha256:${'a'.repeat(64)}`],
      ['nginx:1.25', 'library/nginx:1.25'],
    ]);
    expect(hubLibraryAliases(undefined).size).toBe(0);
  });
});

describe('airgap load of a Docker Hub one-segment image', () => {
  let first: LoadResult;

  it('puts it at its path and under library/, the same digest, its blobs mounted rather than sent twice', async () => {
    const result = await runAirgap(['load', out, '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--json', '--charms-dir', join(tmp.path, 'charms')]);
    expect(result.code, result.stderr).toBe(0);
    first = JSON.parse(result.stdout) as LoadResult;
    const busybox = seeded.get('docker.io/library/busybox:1.28');
    expect(first.aliases).toEqual([{ of: 'busybox:1.28', private: `${privateRegistry.host}/library/busybox:1.28`, digest: busybox, alreadyPresent: false }]);
    // The images themselves as before: four, the alias not among them.
    expect(first.images.map((i) => i.private).sort()).toEqual([
      `${privateRegistry.host}/busybox:1.28`, `${privateRegistry.host}/library/redis:7`, `${privateRegistry.host}/pause:3.9`, `${privateRegistry.host}/team/app:1.0`,
    ]);
    for (const reference of ['busybox:1.28', 'library/busybox:1.28']) {
      expect(sha256Digest(await inspectRaw(`${privateRegistry.host}/${reference}`, { tlsVerify: false }))).toBe(busybox);
    }
    // Not for registry.k8s.io's one-segment pause, nor for what is already under library/.
    await expect(inspectRaw(`${privateRegistry.host}/library/pause:3.9`, { tlsVerify: false })).rejects.toThrow();
    await expect(inspectRaw(`${privateRegistry.host}/library/library/redis:7`, { tlsVerify: false })).rejects.toThrow();
    // The seeded images share their layer: every distinct blob uploaded once, the second name only mounts.
    const log = privateRegistry.logs().split('\n');
    const mounts = log.filter((l) => /"POST \/v2\/library\/busybox\/blobs\/uploads\/\?mount=sha256%3A[a-f0-9]{64}&from=busybox HTTP\/1\.1" 201 /.test(l));
    // Its config and its layer, both mounted from busybox (the seeded images share their layer).
    expect(mounts).toHaveLength(2);
    expect(log.filter((l) => /"(PATCH|PUT) \/v2\/library\/busybox\/blobs\/uploads\//.test(l))).toEqual([]);
  }, 120_000);

  it('says so in its report, and a re-run finds both names there and sends nothing', async () => {
    const plain = await runAirgap(['load', out, '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--charms-dir', join(tmp.path, 'charms')]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(`present ${privateRegistry.host}/library/busybox:1.28 ${first.aliases[0]?.digest}, Docker Hub's library/ name of busybox:1.28`);
    expect(plain.stdout).toMatch(/Loaded 4 images into \S+, 1 of them also under library\/ for a Docker Hub mirror \(4 already there\): 0 blobs uploaded/);
    const again = await runAirgap(['load', out, '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--json', '--charms-dir', join(tmp.path, 'charms')]);
    const result = JSON.parse(again.stdout) as LoadResult;
    expect(result.aliases.map((a) => a.alreadyPresent)).toEqual([true]);
    expect(result.uploadedBlobs + result.mountedBlobs).toBe(0);
  }, 120_000);
});
