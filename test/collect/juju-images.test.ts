/**
 * The Juju images a collect adds: the version from --juju-version or from `juju version` (the Juju stand-in,
 * test/stand-ins/juju), bases from the carried charms' manifest.yaml, merged into the plan with their reason and
 * routed through the mirrors like any other image. Plans only: nothing is pulled here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mergeJujuImages, planJujuImages, uncoveredCharmBases } from '../../src/collect/juju-images.ts';
import { planCollect, sourcesOf, withJujuImages, type CollectPlan, type CollectPlanOptions } from '../../src/collect/plan.ts';
import { AirgapError, UsageError } from '../../src/errors.ts';
import { loadRelease } from '../../src/release/index.ts';
import { writeTestCharm } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';

const JUJU = resolve(import.meta.dirname, '../stand-ins/juju');
const P = '172.17.0.2:5000';
const manifest = (...channels: string[]): string => `bases:\n${channels.map((c) => `- name: ubuntu\n  channel: '${c}'\n  architectures: [amd64]\n`).join('')}`;

const tmp = useTempDir('airgap-juju-images-');
afterEach(() => {
  vi.unstubAllEnvs();
});

interface TestCharm {
  /** Extra members: manifest.yaml, a metadata.yaml with series:. */
  files?: Record<string, string>;
}

/** An airgap.yaml with a bundle deploying one application per charm (NAME_r1.charm beside it). */
async function release(charms: Record<string, TestCharm>, extra = ''): Promise<string> {
  const dir = await tmp.dir('release');
  const apps: string[] = [];
  for (const [name, charm] of Object.entries(charms)) {
    await writeTestCharm(join(dir, `${name}_r1.charm`), name, charm.files ?? {});
    apps.push(`  ${name}:\n    charm: ./${name}_r1.charm\n    resources: { oci-image: ${P}/team/${name}:1.0 }`);
  }
  await writeFile(join(dir, 'bundle.yaml'), `bundle: kubernetes\napplications:\n${apps.join('\n')}\n`);
  await writeFile(join(dir, 'airgap.yaml'), `name: r\nversion: "1"\nplaceholder: ${P}\nupstream: { "*": registry.example }\nbundle: bundle.yaml\n${extra}`);
  return join(dir, 'airgap.yaml');
}

async function plan(file: string, options: Partial<CollectPlanOptions> = {}): Promise<CollectPlan> {
  const opts: CollectPlanOptions = { release: file, registriesConf: join(tmp.path, 'none.conf'), ...options };
  return withJujuImages(await planCollect(opts, tmp.path), opts);
}

const jujuOnly = (p: CollectPlan): [string, string | undefined][] => p.images.filter((i) => i.reason !== undefined).map((i) => [i.upstream, i.reason]);

describe('the Juju images of a collect', () => {
  it('--juju-version: jujud-operator, juju-db, and charm-base of each base the sidecar charms run on, each with its reason', async () => {
    const file = await release({
      kfp: { files: { 'manifest.yaml': manifest('20.04') } },
      mysql: { files: { 'manifest.yaml': manifest('22.04') } },
      both: { files: { 'manifest.yaml': manifest('22.04', '24.04/edge') } },
      // A PodSpec charm runs in an operator pod of jujud-operator: its 18.04 needs no charm-base.
      minio: { files: { 'metadata.yaml': 'name: minio\nseries: [kubernetes]\n', 'manifest.yaml': manifest('18.04') } },
    });
    const planned = await plan(file, { jujuVersion: '3.5.1', jujuPath: join(tmp.path, 'never-called') });
    expect(jujuOnly(planned)).toEqual([
      ['docker.io/jujusolutions/jujud-operator:3.5.1', 'the Juju 3.5.1 controller, and the init container of every charm\'s pod'],
      ['docker.io/jujusolutions/juju-db:4.4', 'the controller\'s database (MongoDB 4.4 for Juju 3.5)'],
      ['docker.io/jujusolutions/charm-base:ubuntu-20.04', 'the charm container of every sidecar charm on ubuntu 20.04: kfp_r1.charm'],
      ['docker.io/jujusolutions/charm-base:ubuntu-22.04', 'the charm container of every sidecar charm on ubuntu 22.04: mysql_r1.charm, both_r1.charm'],
      ['docker.io/jujusolutions/charm-base:ubuntu-24.04-edge', 'the charm container of every sidecar charm on ubuntu 24.04/edge: both_r1.charm'],
    ]);
    // Appended after the release's own images, which keep their order; placed at their path like any image.
    expect(planned.images.slice(0, 4).map((i) => i.path)).toEqual(['team/kfp:1.0', 'team/mysql:1.0', 'team/both:1.0', 'team/minio:1.0']);
    expect(planned.images.find((i) => i.reason !== undefined)).toMatchObject({ written: 'docker.io/jujusolutions/jujud-operator:3.5.1', path: 'jujusolutions/jujud-operator:3.5.1', mentions: [] });
    expect(planned.jujuVersion?.tag).toBe('3.5.1');
    expect(planned.warnings).toEqual([]);
  });

  it('without --juju-version, asks `juju version` on this side (3.4.0 of the stand-in; 2.9 runs MongoDB 4.0)', async () => {
    const file = await release({ kfp: { files: { 'manifest.yaml': manifest('20.04') } } });
    expect(jujuOnly(await plan(file, { jujuPath: JUJU })).map(([ref]) => ref)).toEqual([
      'docker.io/jujusolutions/jujud-operator:3.4.0', 'docker.io/jujusolutions/juju-db:4.4', 'docker.io/jujusolutions/charm-base:ubuntu-20.04',
    ]);
    vi.stubEnv('JUJU_STANDIN_VERSION', '2.9.46-ubuntu-amd64');
    expect(jujuOnly(await plan(file, { jujuPath: JUJU })).map(([ref]) => ref).slice(0, 2)).toEqual(['docker.io/jujusolutions/jujud-operator:2.9.46', 'docker.io/jujusolutions/juju-db:4.0']);
  });

  it('no juju on PATH and no --juju-version: a warning that names the flag, and no Juju image; a --juju that is not there is an error', async () => {
    const file = await release({ kfp: { files: { 'manifest.yaml': manifest('20.04') } } });
    const empty = join(tmp.path, 'empty-bin');
    await mkdir(empty, { recursive: true });
    vi.stubEnv('PATH', empty);
    const planned = await plan(file);
    expect(jujuOnly(planned)).toEqual([]);
    expect(planned.warnings).toEqual([expect.stringMatching(/^juju not found \(looked for "juju" on PATH\): Juju's own images \(jujud-operator, juju-db, charm-base\) are not carried; give --juju-version X\.Y\.Z .* or --no-juju-images/)]);
    vi.unstubAllEnvs();
    await expect(plan(file, { jujuPath: join(tmp.path, 'no-such-juju') })).rejects.toThrow(/^--juju .*no-such-juju: juju not found/);
  });

  it('a juju whose version airgap does not know stops the plan with what to do; a bad --juju-version is a usage error before anything runs', async () => {
    const file = await release({ kfp: { files: { 'manifest.yaml': manifest('20.04') } } });
    vi.stubEnv('JUJU_STANDIN_VERSION', '4.0.0-genericlinux-amd64');
    const failure = await plan(file, { jujuPath: JUJU }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AirgapError);
    expect(failure).not.toBeInstanceOf(UsageError);
    expect((failure as AirgapError).message).toMatch(/version says "4\.0\.0-genericlinux-amd64": airgap knows the Kubernetes images of Juju 2\.9 and 3\.x, not of 4\.0\.0/);
    expect((failure as AirgapError).hint).toMatch(/--juju-version X\.Y\.Z .* or --no-juju-images/);
    await expect(planCollect({ release: file, jujuVersion: '3.4' }, tmp.path)).rejects.toThrow(UsageError);
  });

  it('--no-juju-images adds nothing and asks no juju; a release with no Juju part adds nothing, and says so when --juju-version was given', async () => {
    const file = await release({ kfp: { files: { 'manifest.yaml': manifest('20.04') } } });
    const none = await plan(file, { jujuImages: false, jujuPath: join(tmp.path, 'no-such-juju') });
    expect(jujuOnly(none)).toEqual([]);
    expect(none.warnings).toEqual([]);
    const list = join(tmp.path, 'images.txt');
    await writeFile(list, 'registry.example/a:1\n');
    const plain = await plan(list, { jujuPath: join(tmp.path, 'no-such-juju') });
    expect([jujuOnly(plain), plain.warnings]).toEqual([[], []]);
    const given = await plan(list, { jujuVersion: '3.4.0' });
    expect(jujuOnly(given)).toEqual([]);
    expect(given.warnings).toEqual(['--juju-version 3.4.0: the release has no Juju part (no bundle, no charms), so no Juju image is added']);
  });

  it('a charm with no manifest.yaml is warned about by name, with the image to list', async () => {
    const file = await release({ old: {}, kfp: { files: { 'manifest.yaml': manifest('22.04') } } });
    const planned = await plan(file, { jujuVersion: '3.4.0' });
    expect(jujuOnly(planned).map(([ref]) => ref)).toContain('docker.io/jujusolutions/charm-base:ubuntu-22.04');
    expect(planned.warnings).toEqual([expect.stringMatching(/^old_r1\.charm has no manifest\.yaml, so the base it runs on is not known .* \(e\.g\. docker\.io\/jujusolutions\/charm-base:ubuntu-22\.04\) under images: in airgap\.yaml$/)]);
  });

  it('an image the release names itself at the same path keeps its spelling and mentions, and gains the reason', async () => {
    const file = await release({ kfp: { files: { 'manifest.yaml': manifest('20.04') } } }, `images:\n  - ${P}/jujusolutions/charm-base:ubuntu-20.04\n`);
    const planned = await plan(file, { jujuVersion: '3.4.0' });
    const base = planned.images.filter((i) => i.path === 'jujusolutions/charm-base:ubuntu-20.04');
    expect(base).toHaveLength(1);
    expect(base[0]).toMatchObject({ written: `${P}/jujusolutions/charm-base:ubuntu-20.04`, upstream: 'registry.example/jujusolutions/charm-base:ubuntu-20.04', reason: expect.stringMatching(/^the charm container/) });
    expect(base[0]?.mentions.map((m) => m.yamlPath)).toEqual(['images[0]']);
    expect(mergeJujuImages([], [])).toEqual([]);
  });

  it('is pulled through the mirrors, as every public image is', async () => {
    const file = await release({ kfp: { files: { 'manifest.yaml': manifest('20.04') } } });
    const planned = await plan(file, { jujuVersion: '3.4.0', mirrors: ['docker.io=127.0.0.1:5999/hub'] });
    const operator = planned.images.find((i) => i.path === 'jujusolutions/jujud-operator:3.4.0');
    if (operator === undefined) throw new Error('no jujud-operator planned');
    expect(sourcesOf(planned, operator)).toEqual([{ registry: '127.0.0.1:5999', repository: 'hub/jujusolutions/jujud-operator', via: 'mirror 127.0.0.1:5999/hub (--mirror docker.io)' }]);
  });

  it('planJujuImages reads the charms it is given, and only those', async () => {
    const file = await release({ kfp: { files: { 'manifest.yaml': manifest('20.04') } } });
    const loaded = await loadRelease(file);
    const result = await planJujuImages(loaded, [], { jujuVersion: '3.4.0' });
    expect(result.images.map((i) => i.path)).toEqual(['jujusolutions/jujud-operator:3.4.0', 'jujusolutions/juju-db:4.4']);
  });

  it('a charm fetched from a URL, read only after the pull: a base no planned charm-base covers is said with the image to list', async () => {
    const file = await release({ kfp: { files: { 'manifest.yaml': manifest('20.04') } } });
    const planned = await plan(file, { jujuVersion: '3.4.0' });
    const fetched = join(tmp.path, 'fetched.charm');
    await writeTestCharm(fetched, 'fetched', { 'manifest.yaml': manifest('20.04', '22.04') });
    const version = planned.jujuVersion;
    expect(await uncoveredCharmBases(version, [{ name: 'fetched.charm', path: fetched }], planned.images)).toEqual([
      'fetched.charm runs on ubuntu 22.04, which no charm known before the pull runs on: docker.io/jujusolutions/charm-base:ubuntu-22.04 is not carried; list it under images: in airgap.yaml and collect again',
    ]);
    // No Juju images planned (no version): nothing to say.
    expect(await uncoveredCharmBases(undefined, [{ name: 'fetched.charm', path: fetched }], planned.images)).toEqual([]);
  });
});
