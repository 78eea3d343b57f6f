import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReleaseFileError } from '../../src/errors.ts';
import { loadRelease, planImages } from '../../src/release/index.ts';
import { useTempDir } from '../support/tmp.ts';

const WORKLOADS = path.resolve(import.meta.dirname, '../fixtures/release/workloads.yaml');
const P = '172.17.0.2:5000';

const tmp = useTempDir('airgap-k8s-');

describe('Kubernetes manifests', () => {
  it('collects the images of every workload kind, in file order, and nothing else', async () => {
    const release = await loadRelease(WORKLOADS);
    expect(release.kind).toBe('kubernetes');
    expect(release.name).toBe('workloads');
    expect(release.manifestFiles).toEqual([WORKLOADS]);
    expect(release.files).toEqual([WORKLOADS]);
    expect(release.mentions.map((m) => [m.reference, m.yamlPath, m.line])).toEqual([
      [`${P}/library/alpine:3.19`, 'Pod/debug:spec.containers[0].image', 9],
      [`${P}/busybox:1.36`, 'Pod/debug:spec.ephemeralContainers[0].image', 12],
      [`${P}/library/busybox:1.36`, 'Deployment/web:spec.template.spec.initContainers[0].image', 23],
      [`${P}/nginx:1.25`, 'Deployment/web:spec.template.spec.containers[0].image', 26],
      ['quay.io/prometheus/node-exporter:v1.7.0', 'Deployment/web:spec.template.spec.containers[1].image', 28],
      [`${P}/mysql:8.0`, 'StatefulSet/db:spec.template.spec.containers[0].image', 39],
      [`${P}/metallb/speaker:v0.13.3`, 'DaemonSet/agent:spec.template.spec.containers[0].image', 50],
      [`${P}/team/rs@sha256:${'0123456789abcdef'.repeat(4)}`, 'ReplicaSet/rs:spec.template.spec.containers[0].image', 61],
      [`${P}/team/rc:1`, 'ReplicationController/rc:spec.template.spec.containers[0].image', 72],
      [`${P}/team/migrate:2.0`, 'Job/migrate:spec.template.spec.containers[0].image', 83],
      [`${P}/team/backup:3.1`, 'CronJob/nightly:spec.jobTemplate.spec.template.spec.containers[0].image', 97],
      [`${P}/team/template:0.1`, 'PodTemplate/tmpl:template.spec.containers[0].image', 107],
      [`${P}/team/listed:4.0`, 'Deployment/listed:spec.template.spec.containers[0].image', 121],
    ]);
    expect(release.mentions.every((m) => m.file === WORKLOADS)).toBe(true);
    expect(release.warnings).toEqual([]);
  });

  it('without a placeholder, pulls every image from the host it names', async () => {
    const planned = planImages(await loadRelease(WORKLOADS));
    expect(planned.find((p) => p.written === `${P}/nginx:1.25`)?.upstream).toBe(`${P}/nginx:1.25`);
    expect(planned.find((p) => p.written === 'quay.io/prometheus/node-exporter:v1.7.0')?.path).toBe('prometheus/node-exporter:v1.7.0');
  });

  it.each([
    ['an image that is not a string', 'apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec:\n  containers:\n    - name: c\n      image: [a, b]\n', 7, /Pod\/p:spec\.containers\[0\]\.image must be a string, found a list/],
    ['an invalid image', 'apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec:\n  containers:\n    - name: c\n      image: Nginx:1.25\n', 7, /Pod\/p:spec\.containers\[0\]\.image: invalid image reference "Nginx:1\.25": repository name "Nginx" must be lowercase/],
    ['containers that are not a list', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\nspec:\n  template:\n    spec:\n      containers: { image: x }\n', 7, /containers must be a list/],
  ])('refuses %s, naming file and line', async (_what, text, line, message) => {
    const file = await tmp.write(`bad-${line}-${Math.random().toString(36).slice(2)}.yaml`, text);
    const error = await loadRelease(file).then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(ReleaseFileError);
    expect(error).toMatchObject({ file, line, message: expect.stringMatching(message) });
    expect((error as Error).message).toContain(`${file}:${line}:`);
  });
});

describe('manifests: in airgap.yaml', () => {
  it('expands globs, sorted, collects their images and warns about host-less ones', async () => {
    await tmp.write('rel/k8s/b.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: { name: b }\nspec:\n  containers:\n    - { name: c, image: nginx:1.25 }\n');
    await tmp.write('rel/k8s/a.yaml', `apiVersion: v1\nkind: Pod\nmetadata: { name: a }\nspec:\n  containers:\n    - { name: c, image: ${P}/team/a:1.0 }\n`);
    await tmp.write('rel/k8s/empty.yaml', '# nothing here yet\n---\n');
    await tmp.write('rel/k8s/notes.txt', 'not matched\n');
    const file = await tmp.write('rel/airgap.yaml', `name: demo\nplaceholder: ${P}\nupstream: { "*": docker.io }\nmanifests: [k8s/*.yaml]\n`);
    const release = await loadRelease(file);
    const k8s = path.join(tmp.path, 'rel/k8s');
    expect(release.manifestFiles).toEqual([path.join(k8s, 'a.yaml'), path.join(k8s, 'b.yaml'), path.join(k8s, 'empty.yaml')]);
    expect(release.files).toEqual([file, ...release.manifestFiles]);
    expect(release.mentions.map((m) => m.reference)).toEqual([`${P}/team/a:1.0`]);
    expect(release.warnings).toMatchObject([{ reference: 'nginx:1.25', file: path.join(k8s, 'b.yaml'), line: 6, yamlPath: 'Pod/b:spec.containers[0].image' }]);
  });

  it('accepts a single pattern string', async () => {
    await tmp.write('one/deploy.yaml', `apiVersion: v1\nkind: Pod\nmetadata: { name: x }\nspec:\n  containers:\n    - { name: c, image: ${P}/x:1.0 }\n`);
    const file = await tmp.write('one/airgap.yaml', 'name: one\nmanifests: deploy.yaml\n');
    const release = await loadRelease(file);
    expect(release.manifestFiles).toEqual([path.join(tmp.path, 'one/deploy.yaml')]);
    expect(release.mentions.map((m) => m.yamlPath)).toEqual(['Pod/x:spec.containers[0].image']);
  });

  it('refuses a manifest that is not Kubernetes objects', async () => {
    await tmp.write('wrong/bundle.yaml', 'applications: { a: { charm: a } }\n');
    const file = await tmp.write('wrong/airgap.yaml', 'name: wrong\nmanifests: [bundle.yaml]\n');
    await expect(loadRelease(file)).rejects.toThrow(/bundle\.yaml: named by manifests: in .*airgap\.yaml but it is not Kubernetes manifests \(it looks like a bundle file\)/);
  });
});
