import { cp, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { renderReleaseSkeleton } from '../../src/config/release-skeleton.ts';
import { loadRelease, planImages } from '../../src/release/index.ts';
import { useTempDir } from '../support/tmp.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = useTempDir('airgap-init-');
beforeAll(async () => {
  await cp(join(ROOT, 'bundles', 'demo'), join(tmp.path, 'demo'), { recursive: true });
  await cp(join(ROOT, 'test', 'fixtures', 'ckf'), join(tmp.path, 'ckf'), { recursive: true });
});
/** The manifest written, loaded as collect loads a release today (loadRelease, then planImages). */
async function written(output: string, text: string): Promise<{ doc: Record<string, unknown>; images: string[] }> {
  await writeFile(output, text);
  const release = await loadRelease(output);
  return { doc: parseYaml(text) as Record<string, unknown>, images: planImages(release).map((p) => p.written) };
}

describe('airgap init', () => {
  it('the shipped demo bundle: its placeholder, Docker Hub upstream, and the same images its own airgap.yaml finds in the bundle', async () => {
    const source = join(tmp.path, 'demo', 'bundle.yaml');
    const skeleton = await renderReleaseSkeleton({ source, output: join(tmp.path, 'demo', 'init.yaml'), version: '1.0' });
    const { doc, images } = await written(skeleton.output, skeleton.rendering.files[0]?.content ?? '');
    expect(doc).toEqual({ name: 'demo', version: '1.0', placeholder: '172.17.0.2:5000', upstream: { '*': 'docker.io' }, bundle: 'bundle.yaml' });
    // The bundle alone is not planned (its placeholder has no upstream: collect refuses it): its mentions are the oracle.
    expect(images.sort()).toEqual([...new Set((await loadRelease(source)).mentions.map((m) => m.reference))].sort());
    expect(skeleton).toMatchObject({ kind: 'bundle', placeholder: '172.17.0.2:5000', images: 3, undecided: 0, ignored: 0 });
  });

  it('the Charmed Kubeflow 1.7 air-gap bundle: upstreams by path, the istio hub ignored, busybox left to the operator', async () => {
    const skeleton = await renderReleaseSkeleton({ source: join(tmp.path, 'ckf', '1.7-bundle-airgap.yaml') });
    expect(skeleton.output).toBe(join(tmp.path, 'ckf', 'airgap.yaml'));
    const text = skeleton.rendering.files[0]?.content ?? '';
    const { doc, images } = await written(skeleton.output, text);
    expect(doc['upstream']).toEqual({ 'knative-releases/': 'gcr.io', 'kubebuilder/': 'gcr.io', 'google-containers/': 'gcr.io', 'dexidp/': 'ghcr.io', 'nvidia/': 'nvcr.io', '*': 'docker.io' });
    expect(doc['ignore']).toEqual(['172.17.0.2:5000/istio']);
    expect(text).toMatch(/^# {2}- busybox:1\.28 {3}# applications\.istio-pilot\.options\.image-configuration \(line \d+\): names no registry host/m);
    // The shipped kubeflow-1.7/airgap.yaml carries 78: these 76 plus the two it lists by hand (istio/pilot, busybox).
    expect(images).toHaveLength(76);
    const shipped = planImages(await loadRelease(join(ROOT, 'bundles', 'kubeflow-1.7', 'airgap.yaml'))).map((p) => p.written);
    expect(shipped.filter((i) => !images.includes(i)).sort()).toEqual(['172.17.0.2:5000/istio/pilot:1.16.2', 'busybox:1.28']);
  });

  it('the stock 1.8 bundle (charms by Charmhub name): a manifest that loads, with no placeholder and no image yet', async () => {
    const skeleton = await renderReleaseSkeleton({ source: join(tmp.path, 'ckf', 'release-1.8', 'bundle.yaml') });
    const { doc, images } = await written(skeleton.output, skeleton.rendering.files[0]?.content ?? '');
    expect(doc).toEqual({ name: 'kubeflow', version: '', bundle: 'bundle.yaml' });
    expect(images).toEqual([]);
  });

  it('a Kubernetes manifest and an image list', async () => {
    const manifest = await renderReleaseSkeleton({ source: join(tmp.path, 'demo', 'k8s', 'web.yaml'), output: join(tmp.path, 'demo', 'k8s.airgap.yaml'), name: 'web' });
    const fromManifest = await written(manifest.output, manifest.rendering.files[0]?.content ?? '');
    expect(fromManifest.doc).toMatchObject({ name: 'web', placeholder: '172.17.0.2:5000', manifests: ['k8s/web.yaml'] });
    expect(fromManifest.images).toEqual(['172.17.0.2:5000/airgap-test/team/app-b:v2.1.0']);
    const list = join(tmp.path, 'images.txt');
    await writeFile(list, '# tools\nquay.io/metallb/speaker:v0.13.3\nbusybox:1.28\nquay.io/metallb/speaker:v0.13.3\n');
    const fromList = await renderReleaseSkeleton({ source: list, output: join(tmp.path, 'list.yaml') });
    const loaded = await written(fromList.output, fromList.rendering.files[0]?.content ?? '');
    expect(loaded.doc['images']).toEqual(['quay.io/metallb/speaker:v0.13.3', 'busybox:1.28']);
    expect(loaded.images).toEqual(['quay.io/metallb/speaker:v0.13.3', 'busybox:1.28']);
  });

  it('refuses to describe an airgap.yaml, or to write over the file it reads', async () => {
    await expect(renderReleaseSkeleton({ source: join(ROOT, 'bundles', 'demo', 'airgap.yaml') })).rejects.toThrow(/already a release manifest/);
    const source = join(tmp.path, 'demo', 'bundle.yaml');
    await expect(renderReleaseSkeleton({ source, output: source })).rejects.toThrow(/that is the file being scanned/);
    expect(await readFile(source, 'utf8')).toContain('applications:');
  });
});
