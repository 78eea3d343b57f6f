/**
 * Charmed Kubeflow 1.8 as Canonical publishes it (a stock bundle: charms by Charmhub name and channel), end to
 * end: `collect --list` finds the whole ground truth inside the charms, then collect -> load -> deploy runs the
 * release against loopback registries holding a small image at every reference, with the Juju stand-in
 * (its `juju download` serves the packed charms of test/fixtures/ckf/release-1.8/charms).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CharmZip } from '../../src/charm/zip.ts';
import type { ReleaseListing } from '../../src/collect/list.ts';
import type { Lock } from '../../src/lock.ts';
import { formatReference, parseReference } from '../../src/reference.ts';
import { runAirgap, type CliResult } from '../support/airgap-cli.ts';
import { unpackTarGz } from '../support/archive.ts';
import { zipOf } from '../support/charm.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { seedImages } from '../support/seed.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const STAND_INS = join(ROOT, 'test', 'stand-ins');
const RELEASE = join(ROOT, 'test', 'fixtures', 'ckf', 'release-1.8');
const BUNDLE = join(RELEASE, 'bundle.yaml');
const FIXTURE_CHARMS = join(RELEASE, 'charms');

/**
 * Found in the charms beyond Canonical's get-images.sh, each a real image the charm uses at run time (see
 * test/fixtures/ckf/release-1.8/README.md, "decoys": the script does not read these places, the charms do).
 */
const EXTRA_FINDS: Record<string, string> = {
  // istio-pilot passes image-configuration's grpc-bootstrap-init to istioctl: the init container of gRPC proxyless pods.
  'docker.io/library/busybox:1.28': 'istio-pilot_r1.charm/config.yaml',
  // kfp-profile-controller's sync.py deploys these in every user namespace (artifact UI and visualization server).
  'gcr.io/ml-pipeline/frontend:2.0.3': 'kfp-profile-controller_r1.charm/src/default-custom-images.json',
  'gcr.io/ml-pipeline/visualization-server:2.0.3': 'kfp-profile-controller_r1.charm/src/default-custom-images.json',
  // tensorboard-controller starts each Tensorboard with TENSORBOARD_IMAGE.
  'docker.io/tensorflow/tensorflow:2.1.0': 'tensorboard-controller_r1.charm/src/charm.py',
};

const tmp = useTempDir('airgap-stock-');
let upstream: RunningRegistry;
let privateRegistry: RunningRegistry;
let listing: ReleaseListing;
const normalise = (reference: string): string => formatReference(parseReference(reference));

interface StandIn {
  env: NodeJS.ProcessEnv;
  dir: string;
  calls(): Promise<string[][]>;
}

/** The Juju stand-in, serving `charmsDir` to `juju download`; CONTAINERS_REGISTRIES_CONF never the machine's. */
async function standIn(charmsDir: string, extra: NodeJS.ProcessEnv = {}): Promise<StandIn> {
  const dir = await tmp.files('juju', { 'state.json': JSON.stringify({ model: 'kubeflow' }) });
  const log = join(dir, 'log.jsonl');
  return {
    dir,
    env: {
      PATH: `${STAND_INS}:${process.env['PATH'] ?? ''}`, JUJU_STANDIN_CHARMS: charmsDir, JUJU_STANDIN_STATE: join(dir, 'state.json'),
      JUJU_STANDIN_LOG: log, JUJU_STANDIN_CONTROLLER_CONFIG: JSON.stringify({ 'caas-image-repo': `${privateRegistry.host}/jujusolutions` }), HOME: dir, KUBECONFIG: '', CONTAINERS_REGISTRIES_CONF: join(dir, 'no-registries.conf'), ...extra,
    },
    calls: async () => (existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : []),
  };
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Copies of the fixture charms with each old digest replaced (digest-pinned references name bytes no test can make). */
async function charmsWithDigests(dir: string, replacements: ReadonlyMap<string, string>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const changed: string[] = [];
  for (const file of await readdir(FIXTURE_CHARMS)) {
    const zip = await CharmZip.open(join(FIXTURE_CHARMS, file));
    const members: Record<string, Buffer> = {};
    let touched = false;
    try {
      for (const name of zip.members.keys()) {
        let text = (await zip.text(name)) ?? '';
        for (const [from, to] of replacements) {
          if (text.includes(from)) {
            text = text.split(from).join(to);
            touched = true;
          }
        }
        members[name] = Buffer.from(text);
      }
    } finally {
      zip.close();
    }
    if (touched) {
      await writeFile(join(dir, file), await zipOf(members));
      changed.push(file);
    } else {
      await copyFile(join(FIXTURE_CHARMS, file), join(dir, file));
    }
  }
  return changed;
}

function collectArgs(out: string): string[] {
  const host = upstream.host;
  // Every public registry of the release is pointed at the loopback upstream: docker.io, gcr.io and ghcr.io by
  // --mirror, nvcr.io by registries.conf (blocked, so nothing could fall back to the real one).
  return ['collect', BUNDLE, '-o', out, '--juju', join(STAND_INS, 'juju'), '--plain-http', host,
    '--mirror', `docker.io=${host}/docker.io`, '--mirror', `gcr.io=${host}/gcr.io`, '--mirror', `ghcr.io=${host}/ghcr.io`];
}

beforeAll(async () => {
  [upstream, privateRegistry] = await Promise.all([startRegistry(), startRegistry()]);
  const juju = await standIn(FIXTURE_CHARMS);
  const listed = await runAirgap(['collect', BUNDLE, '--list', '--json', '--juju', join(STAND_INS, 'juju')], { env: juju.env, cwd: tmp.path });
  if (listed.code !== 0) throw new Error(listed.stderr);
  listing = JSON.parse(listed.stdout) as ReleaseListing;
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), privateRegistry?.stop()]);
});

describe('collect --list on the stock Charmed Kubeflow 1.8 bundle', () => {
  it('finds every image of the ground truth, the two istio images built from hub + name + tag included', async () => {
    const expected = (await readFile(join(RELEASE, 'expected-images.txt'), 'utf8')).split('\n').filter(Boolean);
    expect(expected).toHaveLength(91);
    const found = new Set(listing.images.map((i) => normalise(i.reference)));
    expect(expected.filter((e) => !found.has(normalise(e)))).toEqual([]);
    const pilot = listing.images.find((i) => normalise(i.reference) === 'docker.io/istio/pilot:1.17.3');
    expect(pilot?.sources).toEqual([{ file: 'istio-pilot_r1.charm/config.yaml', key: 'options.image-configuration.default -> global-hub + pilot-image + global-tag', line: 26, applications: ['istio-pilot'] }]);
  });

  it('finds four more, each a real image a charm uses that Canonical\'s procedure misses, and nothing else', async () => {
    const expected = new Set((await readFile(join(RELEASE, 'expected-images.txt'), 'utf8')).split('\n').filter(Boolean).map(normalise));
    const extra = listing.images.filter((i) => !expected.has(normalise(i.reference)) && i.reason === undefined);
    expect(Object.fromEntries(extra.map((i) => [normalise(i.reference), i.sources[0]?.file]))).toEqual(EXTRA_FINDS);
    expect(listing.images.filter((i) => i.reason === undefined)).toHaveLength(95);
    // Not collected: the hub itself (`global-hub: docker.io/istio`) and label selectors in CRD prose.
    expect(listing.images.map((i) => i.reference)).not.toContain('docker.io/istio');
    expect(listing.images.some((i) => i.reference.startsWith('bindings.knative.dev'))).toBe(false);
  });

  it('adds Juju\'s own images for the stand-in\'s juju 3.4.0: charm-base of 20.04 for the sidecar charms and of 22.04 for mysql-k8s', () => {
    const juju = listing.images.filter((i) => i.reason !== undefined);
    expect(juju.map((i) => i.upstream)).toEqual([
      'docker.io/jujusolutions/jujud-operator:3.4.0', 'docker.io/jujusolutions/juju-db:4.4',
      'docker.io/jujusolutions/charm-base:ubuntu-20.04', 'docker.io/jujusolutions/charm-base:ubuntu-22.04',
    ]);
    // The five PodSpec charms (envoy, katib-controller, kubeflow-volumes, minio, mlmd) run no charm-base.
    expect(juju[2]?.reason).toBe('the charm container of every sidecar charm on ubuntu 20.04: admission-webhook_r1.charm, argo-controller_r1.charm, dex-auth_r1.charm and 28 more');
    expect(juju[3]?.reason).toBe('the charm container of every sidecar charm on ubuntu 22.04: mysql-k8s_r1.charm');
    expect(listing.images).toHaveLength(99);
  });

  it('keeps provenance: application, charm file, member and key; one charm serves two applications', () => {
    const mysql = listing.images.find((i) => i.reference.startsWith('ghcr.io/canonical/charmed-mysql@'));
    expect(mysql?.sources).toEqual([{ file: 'mysql-k8s_r1.charm/metadata.yaml', key: 'resources.mysql-image.upstream-source', line: expect.any(Number), applications: ['katib-db', 'kfp-db'] }]);
    const katib = listing.images.find((i) => i.reference === 'docker.io/kubeflowkatib/suggestion-hyperopt:v0.16.0');
    expect(katib?.sources.map((s) => s.key)).toEqual(['suggestion__random', 'suggestion__tpe']);
    expect(katib?.sources[0]?.file).toBe('katib-controller_r1.charm/src/default-custom-images.json');
    expect(listing.images.find((i) => i.reference === 'tensorflow/tensorflow:2.1.0')?.sources[0]?.key).toBe('line 39 TENSORBOARD_IMAGE');
  });

  it('lists the 37 charms with revision and sha256, downloaded once each as Juju 3 names them', async () => {
    expect(listing.charms).toHaveLength(37);
    for (const charm of listing.charms) {
      expect(charm.file).toBe(`${charm.charm}_r1.charm`);
      expect(charm.revision).toBe(1);
      expect(charm.sha256).toBe(await sha256File(join(FIXTURE_CHARMS, charm.file)));
    }
    expect(listing.charms.find((c) => c.charm === 'mysql-k8s')).toMatchObject({ applications: ['katib-db', 'kfp-db'], channel: '8.0/stable' });
  });

  it('runs juju download with the real command\'s arguments, passes --charmhub-url, prints text, writes nothing', async () => {
    const juju = await standIn(FIXTURE_CHARMS, { JUJU_STANDIN_CHARMHUB_URL: 'https://charmhub.example.internal' });
    const out = join(tmp.path, 'list-out');
    const result = await runAirgap(['collect', BUNDLE, '--list', '-o', out, '--juju', join(STAND_INS, 'juju'), '--charmhub-url', 'https://charmhub.example.internal'], { env: juju.env, cwd: juju.dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('kubeflow: 99 images, 37 charms downloaded (nothing pulled, nothing written)');
    expect(result.stdout).toContain('    katib-db, kfp-db: mysql-k8s_r1.charm/metadata.yaml:');
    const downloads = (await juju.calls()).filter((c) => c[0] === 'download');
    expect(downloads).toHaveLength(37);
    // And `juju version`: before the downloads (is juju there?), and for the Juju images to carry.
    expect((await juju.calls()).filter((c) => c[0] !== 'download')).toEqual([['version'], ['version']]);
    const mysql = downloads.find((c) => c[1] === 'mysql-k8s');
    expect(mysql?.slice(0, 4)).toEqual(['download', 'mysql-k8s', '--channel', '8.0/stable']);
    expect(mysql?.slice(4, 6)).toEqual(['--charmhub-url', 'https://charmhub.example.internal']);
    expect(mysql?.[6]).toBe('--filepath');
    expect(mysql?.at(-1)).toBe('--no-progress');
    expect(existsSync(out)).toBe(false);
    expect((await readdir(juju.dir)).sort()).toEqual(['log.jsonl', 'state.json']);
  });
});

describe('the 1.8 release end to end: collect -> load -> deploy', () => {
  let carried: string;
  let offline: string;
  let lock: Lock;
  let seeded: Map<string, string>;

  beforeAll(async () => {
    // A small image at every reference, where the mirrors point: HOST/<registry>/<repository>. A digest-pinned
    // reference names bytes nobody can make: it is seeded under a tag and the charms get the new digest.
    const names: string[] = [];
    const pinned: { old: string; name: string }[] = [];
    for (const image of listing.images) {
      const ref = parseReference(image.upstream);
      const at = `${ref.registry}/${ref.repository}`;
      if (ref.digest === undefined) names.push(`${at}:${ref.tag ?? 'latest'}`);
      else pinned.push({ old: ref.digest, name: `${at}:seeded-${pinned.length}` });
    }
    const images = await seedImages(`http://${upstream.host}`, [...names, ...pinned.map((p) => p.name)]);
    seeded = new Map(images.map((i) => [i.name, i.digest]));
    const replacements = new Map(pinned.map((p) => [p.old, seeded.get(p.name) ?? '']));
    const charms = join(tmp.path, 'charmhub');
    expect((await charmsWithDigests(charms, replacements)).sort()).toEqual(['kfp-api_r1.charm', 'mysql-k8s_r1.charm']);

    const juju = await standIn(charms);
    const conf = join(juju.dir, 'registries.conf');
    await writeFile(conf, `[[registry]]\nprefix = "nvcr.io"\nblocked = true\n\n[[registry.mirror]]\nlocation = "${upstream.host}/nvcr.io"\ninsecure = true\n`);
    carried = join(tmp.path, 'carried');
    const collected = await runAirgap(collectArgs(carried), { env: { ...juju.env, CONTAINERS_REGISTRIES_CONF: conf } });
    if (collected.code !== 0) throw new Error(collected.stderr);
    lock = JSON.parse(await readFile(join(carried, 'airgap-lock.json'), 'utf8')) as Lock;
    offline = join(tmp.path, 'offline');
    await mkdir(offline);
    const loaded = await runAirgap(['load', carried, '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--charms-dir', join(offline, 'charms')]);
    if (loaded.code !== 0) throw new Error(loaded.stderr);
  });

  it('collects all 95 images and Juju\'s four through the mirrors; the lock keeps each upstream reference and its digest', () => {
    expect(lock.images).toHaveLength(99);
    expect(lock.images.filter((i) => i.reason !== undefined).map((i) => i.path)).toEqual(['jujusolutions/jujud-operator:3.4.0', 'jujusolutions/juju-db:4.4', 'jujusolutions/charm-base:ubuntu-20.04', 'jujusolutions/charm-base:ubuntu-22.04']);
    for (const image of lock.images) {
      const ref = parseReference(image.upstream);
      expect(image.upstream.startsWith(upstream.host)).toBe(false);
      const name = ref.digest === undefined ? `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}` : undefined;
      if (name !== undefined) expect(image.digest).toBe(seeded.get(name));
    }
    expect(lock.images.find((i) => i.path === 'nvidia/tritonserver:23.05-py3')?.upstream).toBe('nvcr.io/nvidia/tritonserver:23.05-py3');
    expect(lock.placeholder).toBe('registry.airgap.invalid');
  });

  it('records each downloaded charm: applications, charm, channel, revision, file, sha256, size', async () => {
    const mysql = lock.charms.find((c) => c.file === 'mysql-k8s_r1.charm');
    expect(mysql).toMatchObject({ applications: ['katib-db', 'kfp-db'], charm: 'mysql-k8s', channel: '8.0/stable', revision: 1 });
    expect(mysql?.sha256).toBe(await sha256File(join(tmp.path, 'charmhub', 'mysql-k8s_r1.charm')));
    expect(lock.charms.filter((c) => c.charm !== undefined)).toHaveLength(37);
  });

  it('packs the charms, the stock bundle, and the generated bundle-airgap.yaml and airgap.yaml', async () => {
    const unpacked = join(tmp.path, 'unpacked');
    const members = (await unpackTarGz(join(carried, 'charms.tar.gz'), unpacked)).map((m) => m.name).sort();
    expect(members.filter((m) => m.endsWith('.charm'))).toHaveLength(37);
    expect(members.filter((m) => !m.endsWith('.charm'))).toEqual(['airgap.yaml', 'bundle-airgap.yaml', 'bundle.yaml']);
    const bundle = parseYaml(await readFile(join(unpacked, 'bundle-airgap.yaml'), 'utf8')) as { applications: Record<string, { charm: string; channel?: string; trust?: boolean; resources?: Record<string, string>; options?: Record<string, string> }>; relations: unknown[] };
    const stock = parseYaml(await readFile(BUNDLE, 'utf8')) as typeof bundle;
    expect(Object.keys(bundle.applications)).toEqual(Object.keys(stock.applications));
    expect(bundle.relations).toEqual(stock.relations);
    const pilot = bundle.applications['istio-pilot'];
    expect(pilot?.charm).toBe('./istio-pilot_r1.charm');
    expect(pilot?.channel).toBeUndefined();
    expect(pilot?.trust).toBe(true);
    expect(pilot?.options?.['default-gateway']).toBe('kubeflow-gateway');
    expect(pilot?.options?.['image-configuration']).toContain("global-hub: 'registry.airgap.invalid/istio'");
    expect(pilot?.options?.['image-configuration']).toContain("grpc-bootstrap-init: 'registry.airgap.invalid/busybox:1.28'");
    const mysqlPath = lock.images.find((i) => i.path.startsWith('canonical/charmed-mysql@'))?.path;
    expect(bundle.applications['katib-db']?.resources).toEqual({ 'mysql-image': `registry.airgap.invalid/${mysqlPath ?? '?'}` });
    expect(bundle.applications['katib-controller']?.options?.['custom_images']).toContain('suggestion__random: registry.airgap.invalid/kubeflowkatib/suggestion-hyperopt:v0.16.0');
    expect(bundle.applications['jupyter-ui']?.options?.['jupyter-images']).toContain('registry.airgap.invalid/kubeflownotebookswg/jupyter-scipy:v1.8.0');
    const text = await readFile(join(unpacked, 'bundle-airgap.yaml'), 'utf8');
    expect(text).toContain('charm: ./mysql-k8s_r1.charm # mysql-k8s 8.0/stable, revision 1, from Charmhub');
    expect(text).not.toMatch(/docker\.io|gcr\.io|ghcr\.io|nvcr\.io/);
  });

  it('airgap deploy charms/airgap.yaml proves every image, deploys the whole release and waits until active; a re-run applies changed options with juju config', async () => {
    const charms = join(offline, 'charms');
    const juju = await standIn(charms);
    const deploy = (args: string[] = []): Promise<CliResult> =>
      runAirgap(['deploy', join(charms, 'airgap.yaml'), '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--lock', join(carried, 'airgap-lock.json'), '--charms-dir', charms, '--timeout', '120s', '--poll-interval', '100ms', ...args], { env: juju.env });
    const result = await deploy();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('all 38 applications are active');
    // What deploy changes, reads (status, controller-config, config --format=json) aside.
    const isRead = (c: string[]): boolean => c[0] === 'status' || c[0] === 'controller-config' || (c[0] === 'config' && c.includes('--format=json'));
    const calls = (await juju.calls()).filter((c) => !isRead(c));
    expect(calls).toEqual([['version'], ['deploy', join(charms, 'bundle-airgap.airgap.yaml'), '--trust']]);
    const state = JSON.parse(await readFile(join(juju.dir, 'state.json'), 'utf8')) as { applications: Record<string, { charm: string; resources: Record<string, string>; options: Record<string, string> }> };
    expect(state.applications['kfp-db']?.charm).toBe('./mysql-k8s_r1.charm');
    expect(state.applications['kfp-db']?.resources['mysql-image']).toMatch(new RegExp(`^${privateRegistry.host}/canonical/charmed-mysql@sha256:`));
    // The private registry holds what the bundle names, as an independent client sees it.
    const dex = `${privateRegistry.host}/charmedkubeflow/dex:2.36.0-f262d95`;
    expect(sha256Digest(await inspectRaw(dex, { tlsVerify: false }))).toBe(seeded.get('docker.io/charmedkubeflow/dex:2.36.0-f262d95'));

    const before = (await juju.calls()).length;
    const again = await deploy(['--set', 'istio-pilot.default-gateway=other-gateway']);
    expect(again.code).toBe(0);
    const rerun = (await juju.calls()).slice(before).filter((c) => !isRead(c));
    expect(rerun).toEqual([['version'], ['config', 'istio-pilot', 'default-gateway=other-gateway']]);
  });
});
