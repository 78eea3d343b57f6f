/** The charm scanner on the 37 packed charms of Charmed Kubeflow 1.8 (test/fixtures/ckf/release-1.8) and on bad zips. */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scanCharm, type CharmScan } from '../../src/charm/scan.ts';
import { formatReference, parseReference } from '../../src/reference.ts';
import { testCharm, zipOf } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';
import { aliasBomb } from '../support/yaml-bombs.ts';

const RELEASE = resolve(import.meta.dirname, '../fixtures/ckf/release-1.8');
const normalise = (reference: string): string => formatReference(parseReference(reference));

let scans: CharmScan[];
const tmp = useTempDir('airgap-scan-');
beforeAll(async () => {
  const dir = join(RELEASE, 'charms');
  scans = await Promise.all((await readdir(dir)).sort().map((file) => scanCharm(join(dir, file))));
});
function scanOf(name: string): CharmScan {
  const scan = scans.find((s) => s.name === name);
  if (scan === undefined) throw new Error(`no charm ${name}`);
  return scan;
}

describe('the 1.8 charms', () => {
  it('name every image of the ground truth, and four more that the charms use', async () => {
    const expected = (await readFile(join(RELEASE, 'expected-images.txt'), 'utf8')).split('\n').filter(Boolean).map(normalise);
    const found = new Set(scans.flatMap((s) => s.images.map((i) => normalise(i.reference))));
    expect(expected.filter((e) => !found.has(e))).toEqual([]);
    expect([...found].filter((f) => !expected.includes(f)).sort()).toEqual([
      'docker.io/library/busybox:1.28', 'docker.io/tensorflow/tensorflow:2.1.0', 'gcr.io/ml-pipeline/frontend:2.0.3', 'gcr.io/ml-pipeline/visualization-server:2.0.3',
    ]);
  });

  it('builds istio\'s pilot and proxyv2 from the hub + name + tag map, and does not take the hub for an image', () => {
    const pilot = scanOf('istio-pilot');
    const option = pilot.images.filter((i) => i.owner === 'image-configuration');
    expect(option.map((i) => [i.reference, i.built])).toEqual([
      ['busybox:1.28', false],
      ['docker.io/istio/pilot:1.17.3', true],
      ['docker.io/istio/proxyv2:1.17.3', true],
      ['docker.io/istio/proxyv2:1.17.3', true],
    ]);
    expect(pilot.hubs).toEqual([{ option: 'image-configuration', hub: 'docker.io/istio' }]);
    expect(option[1]).toMatchObject({ member: 'config.yaml', key: 'options.image-configuration.default -> global-hub + pilot-image + global-tag', line: 26 });
  });

  it('reads resources, option defaults, JSON maps under src/ with their keys, and Python constants', () => {
    expect(scanOf('kubeflow-profiles').images.map((i) => [i.kind, i.key, i.reference])).toEqual([
      ['resource', 'resources.profile-image.upstream-source', 'docker.io/kubeflownotebookswg/profile-controller:v1.8.0'],
      ['resource', 'resources.kfam-image.upstream-source', 'docker.io/kubeflownotebookswg/kfam:v1.8.0'],
    ]);
    expect(scanOf('kfp-api').images.find((i) => i.owner === 'cache-image')?.reference).toBe('gcr.io/google-containers/busybox');
    const jupyter = scanOf('jupyter-ui').images.filter((i) => i.owner === 'jupyter-images');
    expect(jupyter).toHaveLength(5);
    const katib = scanOf('katib-controller').images.find((i) => i.mapKey === 'suggestion__pbt');
    expect(katib).toMatchObject({ kind: 'data', member: 'src/default-custom-images.json', key: 'suggestion__pbt', reference: 'docker.io/kubeflowkatib/suggestion-pbt:v0.16.0' });
    expect(scanOf('tensorboard-controller').images.find((i) => i.member === 'src/charm.py')).toMatchObject({ key: 'line 39 TENSORBOARD_IMAGE', line: 39, reference: 'tensorflow/tensorflow:2.1.0' });
  });

  it('keeps prose and label selectors out: knative-operator names only its two resources and one option image', () => {
    expect(scanOf('knative-operator').images.map((i) => i.reference)).toEqual([
      'gcr.io/knative-releases/knative.dev/operator/cmd/operator:v1.10.3',
      'gcr.io/knative-releases/knative.dev/operator/cmd/webhook:v1.10.3',
      'otel/opentelemetry-collector:latest',
    ]);
  });
});

describe('charms packed from charmcraft.yaml alone', () => {
  it('reads resources and config.options from it', async () => {
    const file = join(tmp.path, 'one-file.charm');
    await writeFile(file, await zipOf({
      'charmcraft.yaml': 'name: one-file\ntype: charm\nresources:\n  app-image:\n    type: oci-image\n    upstream-source: ghcr.io/example/app:2.1\nconfig:\n  options:\n    sidecar:\n      type: string\n      default: quay.io/example/sidecar:v1.0.0\n',
      'templates/deployment.yaml.j2': 'image: {{ image }}\n# helper: registry.k8s.io/pause:3.9\n',
    }));
    const scan = await scanCharm(file);
    expect(scan.images.map((i) => [i.member, i.key, i.reference])).toEqual([
      ['charmcraft.yaml', 'resources.app-image.upstream-source', 'ghcr.io/example/app:2.1'],
      ['charmcraft.yaml', 'config.options.sidecar.default', 'quay.io/example/sidecar:v1.0.0'],
      ['templates/deployment.yaml.j2', 'line 2', 'registry.k8s.io/pause:3.9'],
    ]);
  });
});

describe('zips that are not charms', () => {
  it('a file that is not a zip, a zip without metadata, metadata without a name', async () => {
    const notZip = join(tmp.path, 'a.charm');
    await writeFile(notZip, 'hello');
    await expect(scanCharm(notZip)).rejects.toThrow(`${notZip}: not a charm: it is not a zip file`);
    const noMetadata = join(tmp.path, 'b.charm');
    await writeFile(noMetadata, await zipOf({ 'src/charm.py': '' }));
    await expect(scanCharm(noMetadata)).rejects.toThrow(`${noMetadata}: not a charm: the zip has no metadata.yaml or charmcraft.yaml`);
    const noName = join(tmp.path, 'c.charm');
    await writeFile(noName, await zipOf({ 'metadata.yaml': 'summary: nameless\n' }));
    await expect(scanCharm(noName)).rejects.toThrow('not a charm: metadata.yaml has no name:');
    const fine = join(tmp.path, 'd.charm');
    await writeFile(fine, await testCharm('d'));
    expect((await scanCharm(fine)).images).toEqual([]);
  });
});

describe('hostile YAML inside a charm', () => {
  it('an alias bomb in metadata.yaml is refused at its line; one in a data file is read as text', async () => {
    const bomb = join(tmp.path, 'bomb.charm');
    await writeFile(bomb, await zipOf({ 'metadata.yaml': `name: bomb\n${aliasBomb()}` }));
    await expect(scanCharm(bomb)).rejects.toThrow(new RegExp(`^${bomb.replaceAll('.', '\\.')}: in the charm, metadata\\.yaml:8:\\d+: YAML aliases here expand the file past`));
    const data = join(tmp.path, 'data-bomb.charm');
    await writeFile(data, await testCharm('data-bomb', { 'templates/bomb.yaml': aliasBomb() }));
    expect((await scanCharm(data)).images.map((i) => i.reference)).toEqual(['busybox:1.28']);
  });
});
