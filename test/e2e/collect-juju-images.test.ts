/**
 * Juju's own images carried with a release (issue 14 item 5): collect asks the Juju stand-in (test/stand-ins/juju)
 * for its version, reads the carried charms' bases, and pulls jujud-operator, juju-db and charm-base like any
 * public image, through `--mirror docker.io=` to a real docker-registry on loopback seeded at the jujusolutions
 * references. The lock records each with its reason; `--list --json` shows it; load puts them at
 * REG/jujusolutions/..., where the controller's caas-image-repo points, with the digests collected.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListedImage } from '../../src/collect/list.ts';
import type { Lock } from '../../src/lock.ts';
import { runAirgap, type CliResult } from '../support/airgap-cli.ts';
import { writeTestCharm } from '../support/charm.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { seedImages } from '../support/seed.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';

const JUJU = resolve(import.meta.dirname, '../stand-ins/juju');
const P = '172.17.0.2:5000';
const HUB = 'docker.io/jujusolutions';

const tmp = useTempDir('airgap-juju-images-e2e-');
let upstream: RunningRegistry;
let privateRegistry: RunningRegistry;
let releaseFile: string;
let seeded: Map<string, string>;

const manifest = (channel: string): string => `bases:\n- name: ubuntu\n  channel: '${channel}'\n  architectures: [amd64]\n`;

beforeAll(async () => {
  // A PATH with no juju on it, whatever this machine has installed.
  await mkdir(join(tmp.path, 'empty-bin'));
  [upstream, privateRegistry] = await Promise.all([startRegistry(), startRegistry()]);
  // Where --mirror docker.io=HOST/docker.io looks: HOST/docker.io/jujusolutions/NAME:TAG. The release's own image too.
  const images = await seedImages(`http://${upstream.host}`, [
    'team/app:1.0',
    `${HUB}/jujud-operator:3.4.0`, `${HUB}/jujud-operator:3.5.1`, `${HUB}/juju-db:4.4`,
    `${HUB}/charm-base:ubuntu-22.04`, `${HUB}/charm-base:ubuntu-20.04`,
  ]);
  seeded = new Map(images.map((i) => [i.name, i.digest]));

  const dir = join(tmp.path, 'release');
  await mkdir(dir);
  await writeTestCharm(join(dir, 'app_r1.charm'), 'app', { 'manifest.yaml': manifest('22.04') });
  // A PodSpec charm on 20.04: an operator pod of jujud-operator, so no charm-base:ubuntu-20.04 for it.
  await writeTestCharm(join(dir, 'legacy_r1.charm'), 'legacy', { 'metadata.yaml': 'name: legacy\nseries: [kubernetes]\n', 'manifest.yaml': manifest('20.04') });
  await writeFile(join(dir, 'bundle.yaml'), [
    'bundle: kubernetes', 'applications:',
    '  app:', '    charm: ./app_r1.charm', `    resources: { oci-image: ${P}/team/app:1.0 }`,
    '  legacy:', '    charm: ./legacy_r1.charm', '',
  ].join('\n'));
  releaseFile = join(dir, 'airgap.yaml');
  await writeFile(releaseFile, `name: juju-release\nversion: "1"\nplaceholder: ${P}\nupstream: { "*": ${upstream.host} }\nbundle: bundle.yaml\n`);
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), privateRegistry?.stop()]);
});

function collect(out: string, env: NodeJS.ProcessEnv, ...extra: string[]): Promise<CliResult> {
  return runAirgap(['collect', releaseFile, '-o', out, '--plain-http', upstream.host, '--mirror', `docker.io=${upstream.host}/docker.io`, ...extra], {
    env: { HOME: tmp.path, DOCKER_CONFIG: join(tmp.path, 'docker'), ...env },
  });
}

async function lockOf(out: string): Promise<Lock> {
  return JSON.parse(await readFile(join(out, 'airgap-lock.json'), 'utf8')) as Lock;
}

describe('collect carries the Juju images of the online juju', () => {
  let out: string;
  let lock: Lock;

  beforeAll(async () => {
    out = join(tmp.path, 'carried');
    const result = await collect(out, {}, '--juju', JUJU);
    if (result.code !== 0) throw new Error(result.stderr);
    expect(result.stderr).toBe('');
    lock = await lockOf(out);
  });

  it('records jujud-operator and juju-db of `juju version` (3.4.0) and charm-base of the sidecar charm\'s base, each with why, at the upstream reference and the digest pulled', () => {
    const juju = lock.images.filter((i) => i.reason !== undefined);
    expect(juju.map((i) => [i.path, i.upstream, i.reason])).toEqual([
      ['jujusolutions/jujud-operator:3.4.0', `${HUB}/jujud-operator:3.4.0`, 'the Juju 3.4.0 controller, and the init container of every charm\'s pod'],
      ['jujusolutions/juju-db:4.4', `${HUB}/juju-db:4.4`, 'the controller\'s database (MongoDB 4.4 for Juju 3.4)'],
      ['jujusolutions/charm-base:ubuntu-22.04', `${HUB}/charm-base:ubuntu-22.04`, 'the charm container of every sidecar charm on ubuntu 22.04: app_r1.charm'],
    ]);
    for (const image of juju) {
      expect(image.digest).toBe(seeded.get(image.upstream));
      expect(image.reference).toBe(image.upstream);
      expect(image.mentions).toEqual([]);
    }
    // The release's own image has no reason: it has mentions.
    expect(lock.images.find((i) => i.path === 'team/app:1.0')).not.toHaveProperty('reason');
    expect(lock.images.map((i) => i.path)).not.toContain('jujusolutions/charm-base:ubuntu-20.04');
  });

  it('load puts them where caas-image-repo REG/jujusolutions finds them, digests unchanged (skopeo)', async () => {
    const loaded = await runAirgap(['load', out, '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--charms-dir', join(tmp.path, 'offline-charms')]);
    if (loaded.code !== 0) throw new Error(loaded.stderr);
    for (const name of ['jujud-operator:3.4.0', 'juju-db:4.4', 'charm-base:ubuntu-22.04']) {
      const raw = await inspectRaw(`${privateRegistry.host}/jujusolutions/${name}`, { tlsVerify: false });
      expect(sha256Digest(raw)).toBe(seeded.get(`${HUB}/${name}`));
    }
  });
});

describe('collect --list --json shows them with their reason and where they are pulled from', () => {
  it('lists each Juju image after the release\'s own, with pullFrom through the mirror and no sources', async () => {
    const result = await collect(join(tmp.path, 'not-written'), {}, '--juju', JUJU, '--list', '--json');
    expect(result.code).toBe(0);
    const listed = (JSON.parse(result.stdout) as { images: ListedImage[] }).images;
    expect(listed.map((i) => i.path)).toEqual(['team/app:1.0', 'jujusolutions/jujud-operator:3.4.0', 'jujusolutions/juju-db:4.4', 'jujusolutions/charm-base:ubuntu-22.04']);
    expect(listed[1]).toEqual({
      reference: `${HUB}/jujud-operator:3.4.0`, upstream: `${HUB}/jujud-operator:3.4.0`, path: 'jujusolutions/jujud-operator:3.4.0',
      pullFrom: [`${upstream.host}/docker.io/jujusolutions/jujud-operator:3.4.0`], sources: [],
      reason: 'the Juju 3.4.0 controller, and the init container of every charm\'s pod',
    });
    const text = await collect(join(tmp.path, 'not-written'), {}, '--juju', JUJU, '--list');
    expect(text.stdout).toContain(`${HUB}/charm-base:ubuntu-22.04  (pulled from ${upstream.host}/docker.io/jujusolutions/charm-base:ubuntu-22.04)\n    added by airgap: the charm container of every sidecar charm on ubuntu 22.04: app_r1.charm\n`);
  });
});

describe('where the version comes from', () => {
  it('--juju-version wins over juju version', async () => {
    const out = join(tmp.path, 'given');
    const result = await collect(out, {}, '--juju', JUJU, '--juju-version', '3.5.1', '--json');
    if (result.code !== 0) throw new Error(result.stderr);
    const summary = JSON.parse(result.stdout) as { images: { path: string; digest: string; reason?: string }[] };
    const operator = summary.images.find((i) => i.path.startsWith('jujusolutions/jujud-operator:'));
    expect(operator).toMatchObject({ path: 'jujusolutions/jujud-operator:3.5.1', digest: seeded.get(`${HUB}/jujud-operator:3.5.1`), reason: expect.stringContaining('Juju 3.5.1') });
  });

  it('no juju on PATH and no --juju-version: the release is collected, with a warning that names the flag, and no Juju image', async () => {
    const out = join(tmp.path, 'no-juju');
    const result = await collect(out, { PATH: join(tmp.path, 'empty-bin') });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warning: juju not found \(looked for "juju" on PATH\): Juju's own images \(jujud-operator, juju-db, charm-base\) are not carried; give --juju-version X\.Y\.Z/m);
    expect((await lockOf(out)).images.map((i) => i.path)).toEqual(['team/app:1.0']);
  });

  it('a --juju that is not there: one line saying so, nothing written', async () => {
    const out = join(tmp.path, 'bad-juju');
    const result = await collect(out, {}, '--juju', join(tmp.path, 'bin', 'juju'));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: --juju .*\/bin\/juju: juju not found/);
    expect(existsSync(join(out, 'airgap-lock.json'))).toBe(false);
  });

  it('--no-juju-images: none, and no warning', async () => {
    const out = join(tmp.path, 'none');
    const result = await collect(out, { PATH: join(tmp.path, 'empty-bin') }, '--no-juju-images');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect((await lockOf(out)).images.map((i) => i.path)).toEqual(['team/app:1.0']);
  });
});
