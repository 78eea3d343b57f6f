import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CharmZip } from '../../src/charm/zip.ts';
import { loadRelease, planImages } from '../../src/release/index.ts';

const BUNDLES = resolve(import.meta.dirname, '../../bundles');
const CKF_18_CHARMS = resolve(import.meta.dirname, '../fixtures/ckf/release-1.8/charms');

/** The keys of a charm's custom_images default, read from the real charm file. */
async function customImageKeys(charmFile: string): Promise<string[]> {
  const zip = await CharmZip.open(resolve(CKF_18_CHARMS, charmFile));
  try {
    const config = parseYaml((await zip.text('config.yaml')) ?? '') as { options: Record<string, { default?: string }> };
    return Object.keys(parseYaml(config.options['custom_images']?.default ?? '') as Record<string, string>);
  } finally {
    zip.close();
  }
}

describe('the shipped release manifests', () => {
  it('kubeflow-1.7: 76 bundle images plus the istio pilot and busybox it implies, no warning', async () => {
    const release = await loadRelease(resolve(BUNDLES, 'kubeflow-1.7/airgap.yaml'));
    const planned = planImages(release);
    expect(release.warnings).toEqual([]);
    expect(planned).toHaveLength(78);
    expect(release.bundleCharms).toHaveLength(19);
    const upstreamOf = (written: string): string | undefined => planned.find((p) => p.written === written)?.upstream;
    expect(upstreamOf('busybox:1.28')).toBe('docker.io/library/busybox:1.28');
    expect(upstreamOf('172.17.0.2:5000/dexidp/dex:v2.31.2')).toBe('ghcr.io/dexidp/dex:v2.31.2');
    expect(upstreamOf('172.17.0.2:5000/istio/pilot:1.16.2')).toBe('docker.io/istio/pilot:1.16.2');
    // The guide retags knative's digest-pinned images with the digest hex: they are pulled by digest.
    const knative = planned.filter((p) => p.path.startsWith('knative-releases/'));
    expect(knative.length).toBeGreaterThan(10);
    for (const image of knative) {
      const name = image.path.slice(0, image.path.lastIndexOf(':'));
      const tag = image.path.slice(image.path.lastIndexOf(':') + 1);
      // Version-tagged ones (the operator's v1.8.1) stay tags.
      expect(image.upstream).toBe(/^[a-f0-9]{64}$/.test(tag) ? `gcr.io/${name}@sha256:${tag}` : `gcr.io/${name}:${tag}`);
    }
    expect(knative.filter((p) => p.upstream.includes('@sha256:')).length).toBeGreaterThan(10);
  });

  it('kubeflow-1.8 and 1.9: the stock bundles, their charms to download, and the Knative images no charm names', async () => {
    for (const [version, charms, knative] of [['1.8', 38, 21], ['1.9', 37, 19]] as const) {
      const release = await loadRelease(resolve(BUNDLES, `kubeflow-${version}/airgap.yaml`));
      expect(release.warnings).toEqual([]);
      expect(release.version).toBe(version);
      expect(release.charmhubCharms).toHaveLength(charms);
      expect(release.bundleCharms).toEqual([]);
      const planned = planImages(release);
      expect(planned).toHaveLength(knative);
      for (const image of planned) expect(image.upstream).toMatch(/^gcr\.io\/knative-releases\/knative\.dev\/[a-z/_-]+@sha256:[a-f0-9]{64}$/);
    }
  });

  // The keys are the real charms' (1.8's fixture charms; the track/1.12 charms of 1.9 take the same ones, without
  // images for the two domain-mapping deployments Knative 1.12 no longer has).
  it.each([['1.8', []], ['1.9', ['domain-mapping', 'domainmapping-webhook']]] as const)('kubeflow-%s sets Knative\'s custom_images: the keys the real charms take, each image one of images:', async (version, unset) => {
    const release = await loadRelease(resolve(BUNDLES, `kubeflow-${version}/airgap.yaml`));
    const listed = new Set(planImages(release).map((p) => p.written));
    for (const [application, charm] of [['knative-serving', 'knative-serving_r1.charm'], ['knative-eventing', 'knative-eventing_r1.charm']] as const) {
      const setting = release.bundleOptions.find((o) => o.application === application && o.option === 'custom_images');
      expect(typeof setting?.value).toBe('string');
      const images = parseYaml(String(setting?.value)) as Record<string, string>;
      expect(Object.keys(images).sort()).toEqual((await customImageKeys(charm)).filter((key) => !(unset as readonly string[]).includes(key)).sort());
      for (const image of Object.values(images)) expect(listed.has(image), image).toBe(true);
      // Found where they are written, for --list and the lock.
      const mentioned = release.mentions.filter((m) => m.yamlPath === `config.${application}.custom_images`).map((m) => m.reference);
      expect(mentioned.sort()).toEqual(Object.values(images).sort());
    }
  });

  it('demo: six images, two charms, one relation, one manifest', async () => {
    const release = await loadRelease(resolve(BUNDLES, 'demo/airgap.yaml'));
    expect(planImages(release)).toHaveLength(6);
    expect(release.bundleCharms.map((c) => c.charm)).toEqual(['./app-a_1.charm']);
    expect(release.charms.map((c) => c.name)).toEqual(['demo-extra']);
    expect(release.relations).toEqual([['demo-extra', 'app-a']]);
    expect(release.manifestFiles.map((f) => f.slice(f.lastIndexOf('/') + 1))).toEqual(['web.yaml']);
  });
});
