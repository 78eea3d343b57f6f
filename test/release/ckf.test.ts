/** The scanner on the real Charmed Kubeflow bundles (unchanged copies, see test/fixtures/ckf/README.md). */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../src/reference.ts';
import { loadRelease, planImages } from '../../src/release/index.ts';
import type { Release } from '../../src/release/index.ts';
import { useTempDir } from '../support/tmp.ts';

const CKF = path.resolve(import.meta.dirname, '../fixtures/ckf');
const BUNDLE_17 = path.join(CKF, '1.7-bundle-airgap.yaml');
const BUNDLE_LATEST = path.join(CKF, 'latest-bundle-airgap.yaml');
const PLACEHOLDER = '172.17.0.2:5000';

/** The placeholder strings of a file found with a regular expression: an oracle independent of the scanner. */
async function placeholderStrings(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return text.match(/172\.17\.0\.2:5000[^\s"',\]}]*/g) ?? [];
}

function distinct(release: Release): Set<string> {
  return new Set(release.mentions.map((m) => m.reference));
}

function withPlaceholderHost(references: Iterable<string>): string[] {
  return [...references].filter((r) => parseReference(r).host === PLACEHOLDER).sort();
}

const tmp = useTempDir('airgap-ckf-');

async function airgapYaml(name: string, text: string): Promise<string> {
  return path.join(await tmp.files(name, { 'airgap.yaml': text }), 'airgap.yaml');
}

describe('1.7 air-gapped bundle, scanned directly', () => {
  let release: Release;
  beforeAll(async () => {
    release = await loadRelease(BUNDLE_17);
  });

  it('is a bundle named after its file, with its 19 local charms', () => {
    expect(release.kind).toBe('bundle');
    expect(release.name).toBe('1.7-bundle-airgap');
    expect(release.version).toBe('');
    expect(release.bundleFile).toBe(BUNDLE_17);
    expect(release.files).toEqual([BUNDLE_17]);
    expect(release.bundleCharms).toHaveLength(19);
    expect(release.bundleCharms[0]).toEqual({ application: 'dex-auth', charm: './dex-auth_fa9f1c6.charm', file: BUNDLE_17, line: 5 });
    expect(release.bundleCharms.filter((c) => c.charm === './mysql-k8s_9ec3b26.charm').map((c) => c.application)).toEqual(['katib-db', 'kfp-db']);
  });

  it('finds all 80 placeholder occurrences, 77 distinct, the same as a regular expression does', async () => {
    const oracle = await placeholderStrings(BUNDLE_17);
    expect(oracle).toHaveLength(80);
    const found = release.mentions.filter((m) => m.reference.startsWith(`${PLACEHOLDER}/`));
    expect(found).toHaveLength(80);
    expect(withPlaceholderHost(distinct(release))).toEqual([...new Set(oracle)].sort());
    expect(withPlaceholderHost(distinct(release))).toHaveLength(77);
  });

  it('without a placeholder, also collects the host-less busybox:1.28, and warns of nothing', () => {
    expect([...distinct(release)].filter((r) => !r.startsWith(`${PLACEHOLDER}/`))).toEqual(['busybox:1.28']);
    expect(release.warnings).toEqual([]);
  });

  it('finds a resource with its line', () => {
    expect(release.mentions[0]).toEqual({ reference: `${PLACEHOLDER}/dexidp/dex:v2.31.2`, file: BUNDLE_17, yamlPath: 'applications.dex-auth.resources.oci-image', line: 9 });
  });

  it('finds the untagged cache-image, to be carried as :latest', () => {
    const cache = release.mentions.find((m) => m.yamlPath === 'applications.kfp-api.options.cache-image');
    expect(cache).toEqual({ reference: `${PLACEHOLDER}/google-containers/busybox`, file: BUNDLE_17, yamlPath: 'applications.kfp-api.options.cache-image', line: 61 });
    expect(parseReference(cache?.reference ?? '').path).toBe('google-containers/busybox:latest');
  });

  it('cannot be pulled alone: its placeholder host needs an upstream:, said before any connection', () => {
    expect(() => planImages(release)).toThrow(/1\.7-bundle-airgap\.yaml:9: 172\.17\.0\.2:5000\/dexidp\/dex:v2\.31\.2 .*an air-gapped bundle .*collect does not pull from a placeholder/);
  });

  it('reads the images out of Python-list strings and JSON-like maps with a trailing comma', () => {
    const at = (yamlPath: string): string[] => release.mentions.filter((m) => m.yamlPath === yamlPath).map((m) => m.reference);
    expect(at('applications.jupyter-ui.options.jupyter-images')).toHaveLength(5);
    expect(at('applications.jupyter-ui.options.rstudio-images')).toEqual([`${PLACEHOLDER}/kubeflownotebookswg/rstudio-tidyverse:v1.7.0`]);
    const eventing = at('applications.knative-eventing.options.custom_images');
    expect(eventing).toHaveLength(9);
    expect(eventing.at(-1)).toBe(`${PLACEHOLDER}/knative-releases/knative.dev/pkg/apiextensions/storageversion/cmd/migrate:59431cf8337532edcd9a4bcd030591866cc867f13bee875d81757c960a53668d`);
    expect(at('applications.knative-serving.options.custom_images')).toHaveLength(11);
    expect(at('applications.kserve-controller.options.custom_images')).toHaveLength(17);
    expect(at('applications.seldon-controller-manager.options.custom_images')).toHaveLength(14);
    expect(at('applications.istio-pilot.options.image-configuration')).toEqual([`${PLACEHOLDER}/istio`, 'busybox:1.28']);
  });
});

describe('1.7 air-gapped bundle under an airgap.yaml', () => {
  const manifest = (extra = ''): string => `name: kubeflow
version: 1.7
placeholder: ${PLACEHOLDER}
upstream:
  "*": docker.io
bundle: ${BUNDLE_17}
ignore:
  - ${PLACEHOLDER}/istio
${extra}`;

  it('collects 76 distinct images once the hub prefix is ignored, and warns about busybox:1.28', async () => {
    const file = await airgapYaml('ignore', manifest());
    const release = await loadRelease(file);
    expect(release.kind).toBe('airgap');
    expect(release.name).toBe('kubeflow');
    expect(release.version).toBe('1.7');
    expect(release.files).toEqual([file, BUNDLE_17]);
    expect(distinct(release).size).toBe(76);
    expect(withPlaceholderHost(distinct(release))).toHaveLength(76);
    expect(distinct(release).has(`${PLACEHOLDER}/istio`)).toBe(false);

    expect(release.warnings).toHaveLength(1);
    const warning = release.warnings[0];
    expect(warning).toMatchObject({ file: BUNDLE_17, yamlPath: 'applications.istio-pilot.options.image-configuration', line: 24, reference: 'busybox:1.28' });
    expect(warning?.message).toMatch(/busybox:1\.28.*no registry host.*172\.17\.0\.2:5000/);

    const planned = planImages(release);
    expect(planned).toHaveLength(76);
    expect(planned[0]).toMatchObject({ written: `${PLACEHOLDER}/dexidp/dex:v2.31.2`, upstream: 'docker.io/dexidp/dex:v2.31.2', path: 'dexidp/dex:v2.31.2' });
    expect(planned.find((p) => p.path === 'kserve/agent:v0.10.0')?.mentions).toHaveLength(3);
  });

  it('carries busybox:1.28 without a warning when images: lists it', async () => {
    const file = await airgapYaml('listed', manifest('images:\n  - busybox:1.28\n'));
    const release = await loadRelease(file);
    expect(release.warnings).toEqual([]);
    expect(distinct(release).size).toBe(77);
    const busybox = planImages(release).find((p) => p.written === 'busybox:1.28');
    expect(busybox?.upstream).toBe('docker.io/library/busybox:1.28');
    expect(busybox?.mentions.map((m) => m.yamlPath)).toEqual(['images[0]', 'applications.istio-pilot.options.image-configuration']);
  });

  it('collects the extra charms of the guide, their images and relations', async () => {
    const file = await airgapYaml('charms', manifest(`charms:
  - name: argo-controller
    charm: ./argo-controller_1b8dd06.charm
    resources: { oci-image: ${PLACEHOLDER}/argoproj/workflow-controller:v3.3.9 }
    config: { executor-image: "${PLACEHOLDER}/charmedkubeflow/argoexec:v3.3.9_22.04_1" }
relations:
  - [argo-controller, minio]
  - [kfp-api:object-storage, minio:object-storage]
`));
    const release = await loadRelease(file);
    expect(release.charms).toEqual([{
      name: 'argo-controller',
      charm: './argo-controller_1b8dd06.charm',
      sha256: undefined,
      resources: { 'oci-image': `${PLACEHOLDER}/argoproj/workflow-controller:v3.3.9` },
      config: { 'executor-image': `${PLACEHOLDER}/charmedkubeflow/argoexec:v3.3.9_22.04_1` },
      file,
      line: 10,
    }]);
    expect(release.relations).toEqual([['argo-controller', 'minio'], ['kfp-api:object-storage', 'minio:object-storage']]);
    expect(release.mentions.slice(0, 2)).toEqual([
      { reference: `${PLACEHOLDER}/argoproj/workflow-controller:v3.3.9`, file, yamlPath: 'charms[0].resources.oci-image', line: 12 },
      { reference: `${PLACEHOLDER}/charmedkubeflow/argoexec:v3.3.9_22.04_1`, file, yamlPath: 'charms[0].config.executor-image', line: 13 },
    ]);
    expect(distinct(release).size).toBe(78);
  });
});

describe('latest air-gapped bundle', () => {
  it('finds its 88 distinct placeholder strings and pulls ml-pipeline/ from its own upstream', async () => {
    const oracle = await placeholderStrings(BUNDLE_LATEST);
    const direct = await loadRelease(BUNDLE_LATEST);
    expect(direct.bundleCharms).toHaveLength(30);
    expect(direct.mentions.filter((m) => m.reference.startsWith(`${PLACEHOLDER}/`))).toHaveLength(oracle.length);
    expect(withPlaceholderHost(distinct(direct))).toEqual([...new Set(oracle)].sort());
    expect(withPlaceholderHost(distinct(direct))).toHaveLength(88);

    const file = await airgapYaml('latest', `placeholder: ${PLACEHOLDER}
upstream: { "*": docker.io, "ml-pipeline/": gcr.io }
bundle: ${BUNDLE_LATEST}
ignore: [${PLACEHOLDER}/istio]
`);
    const planned = planImages(await loadRelease(file));
    expect(planned).toHaveLength(87);
    const upstreamOf = (written: string): string | undefined => planned.find((p) => p.written === written)?.upstream;
    expect(upstreamOf(`${PLACEHOLDER}/ml-pipeline/frontend:2.0.0-alpha.7`)).toBe('gcr.io/ml-pipeline/frontend:2.0.0-alpha.7');
    expect(upstreamOf(`${PLACEHOLDER}/python:3.7`)).toBe('docker.io/library/python:3.7');
    expect(planned.find((p) => p.written === `${PLACEHOLDER}/python:3.7`)?.path).toBe('python:3.7');
  });
});

describe('stable bundles', () => {
  it.each([
    ['1.7-stable-bundle.yaml', 35],
    ['1.9-stable-bundle.yaml', 37],
  ])('%s deploys %i charms from Charmhub and names no image', async (name, applications) => {
    const file = path.join(CKF, name);
    const text = await readFile(file, 'utf8');
    expect(text.match(/^ {4}charm: /gm)).toHaveLength(applications);
    const release = await loadRelease(file);
    expect(release.kind).toBe('bundle');
    expect(release.bundleCharms).toEqual([]);
    expect(release.mentions).toEqual([]);
    expect(release.warnings).toEqual([]);
    expect(planImages(release)).toEqual([]);
  });
});
