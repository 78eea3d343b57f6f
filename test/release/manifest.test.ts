/** airgap.yaml: what it accepts, and every refusal pointing at the file, line and column to fix. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReleaseFileError } from '../../src/errors.ts';
import { loadRelease } from '../../src/release/index.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-manifest-');

/** A fresh directory holding `files`; returns the path of its airgap.yaml. */
async function release(airgap: string, files: Record<string, string> = {}): Promise<string> {
  return path.join(await tmp.files('r', { ...files, 'airgap.yaml': airgap }), 'airgap.yaml');
}

async function failure(file: string): Promise<ReleaseFileError> {
  const error = await loadRelease(file).then(() => undefined, (err: unknown) => err);
  if (!(error instanceof ReleaseFileError)) throw new Error(`expected a ReleaseFileError, got ${String(error)}`);
  return error;
}

const BUNDLE = 'applications:\n  app:\n    charm: ./app.charm\n';

describe('a valid airgap.yaml', () => {
  it('reads every key', async () => {
    const file = await release(`name: kubeflow
version: 1.10
placeholder: 172.17.0.2:5000
upstream:
  "*": docker.io
  ml-pipeline/: gcr.io/mirror
bundle: bundle.yaml
charms:
  - name: argo-controller
    charm: ./argo-controller_1b8dd06.charm
    resources: { oci-image: 172.17.0.2:5000/argoproj/workflow-controller:v3.3.9, crd: 3 }
    config: { executor-image: "172.17.0.2:5000/charmedkubeflow/argoexec:v3.3.9_22.04_1", replicas: 2, debug: true }
  - name: minio
    charm: https://example.com/minio.charm
    sha256: sha256:${'ab'.repeat(32)}
relations:
  - [argo-controller, minio]
images:
  - 172.17.0.2:5000/istio/pilot:1.16.2
ignore:
  - 172.17.0.2:5000/istio
platforms: [linux/amd64, linux/arm/v7]
`, { 'bundle.yaml': BUNDLE });
    const r = await loadRelease(file);
    const base = path.dirname(file);
    expect(r).toMatchObject({
      kind: 'airgap', file, baseDir: base, name: 'kubeflow', version: '1.10', placeholder: '172.17.0.2:5000',
      upstream: { '*': 'docker.io', 'ml-pipeline/': 'gcr.io/mirror' },
      bundleFile: path.join(base, 'bundle.yaml'),
      bundleCharms: [{ application: 'app', charm: './app.charm', file: path.join(base, 'bundle.yaml'), line: 3 }],
      relations: [['argo-controller', 'minio']],
      manifestFiles: [], platforms: ['linux/amd64', 'linux/arm/v7'], ignore: ['172.17.0.2:5000/istio'],
      files: [file, path.join(base, 'bundle.yaml')],
    });
    expect(r.charms.map((c) => [c.name, c.sha256, c.resources, c.config, c.line])).toEqual([
      ['argo-controller', undefined, { 'oci-image': '172.17.0.2:5000/argoproj/workflow-controller:v3.3.9', crd: '3' }, { 'executor-image': '172.17.0.2:5000/charmedkubeflow/argoexec:v3.3.9_22.04_1', replicas: 2, debug: true }, 9],
      ['minio', 'ab'.repeat(32), {}, {}, 13],
    ]);
    expect(r.mentions.map((m) => [m.yamlPath, m.line])).toEqual([
      ['charms[0].resources.oci-image', 11],
      ['charms[0].config.executor-image', 12],
      ['images[0]', 19],
    ]);
    // The ignore entry matched nothing here: a likely typo is reported.
    expect(r.warnings).toMatchObject([{ yamlPath: 'ignore', reference: '172.17.0.2:5000/istio' }]);
  });

  it('defaults the name to the directory and the version to empty', async () => {
    const file = await release('images: [busybox:1.28]\n');
    const r = await loadRelease(file);
    expect(r.name).toBe(path.basename(path.dirname(file)));
    expect(r.version).toBe('');
    expect(r.placeholder).toBeUndefined();
  });

  it('warns that upstream: without placeholder: does nothing', async () => {
    const r = await loadRelease(await release('upstream: { "*": docker.io }\nimages: [busybox:1.28]\n'));
    expect(r.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/upstream: has no effect without placeholder:/)]);
  });
});

describe('config: options of the bundle\'s applications', () => {
  it('reads each with where it is written, and finds the images inside a YAML text of them', async () => {
    const file = await release('placeholder: reg.example:5000\nbundle: b.yaml\nconfig:\n  app:\n    custom_images: |\n      controller: gcr.io/k/controller@sha256:' + 'a'.repeat(64) + '\n      queue-proxy: \'\'\n    replicas: 2\n', { 'b.yaml': BUNDLE });
    const loaded = await loadRelease(file);
    expect(loaded.bundleOptions).toEqual([
      { application: 'app', option: 'custom_images', value: `controller: gcr.io/k/controller@sha256:${'a'.repeat(64)}\nqueue-proxy: ''\n`, file, line: 5 },
      { application: 'app', option: 'replicas', value: 2, file, line: 8 },
    ]);
    expect(loaded.mentions.filter((m) => m.yamlPath === 'config.app.custom_images').map((m) => m.reference)).toEqual([`gcr.io/k/controller@sha256:${'a'.repeat(64)}`]);
  });
});

describe('a wrong airgap.yaml', () => {
  const rows: [string, string, Record<string, string>, number, number | undefined, RegExp, RegExp | undefined][] = [
    ['a misspelt key', 'name: x\nimagse: [a:1]\n', {}, 2, 1, /unknown key "imagse" in airgap\.yaml \(did you mean "images"\?\)/, /known keys are: name, version, placeholder, upstream, bundle, config, charms, relations, images, ignore, manifests, platforms/],
    ['an unknown key', 'name: x\n  \nfrobnicate: 1\n', {}, 3, 1, /unknown key "frobnicate" in airgap\.yaml$/, /known keys/],
    ['charms that are not a list', 'name: x\ncharms:\n  argo: ./argo.charm\n', {}, 3, 3, /charms must be a list, found a mapping/, undefined],
    ['a charm without a name', 'charms:\n  - charm: ./a.charm\n', {}, 2, 5, /charms\[0\] has no name:/, undefined],
    ['a charm without a charm', 'charms:\n  - name: a\n', {}, 2, 5, /charms\[0\] has no charm:/, /https/],
    ['a misspelt charm key', 'charms:\n  - name: a\n    charm: ./a.charm\n    resource: { x: y }\n', {}, 4, 5, /unknown key "resource" in charms\[0\] \(did you mean "resources"\?\)/, undefined],
    ['an https charm without sha256', 'charms:\n  - name: a\n    charm: https://example.com/a.charm\n', {}, 3, 12, /charms\[0\]\.charm is a URL but has no sha256:/, /sha256/],
    ['an http charm', 'charms:\n  - name: a\n    charm: http://example.com/a.charm\n    sha256: ' + 'a'.repeat(64) + '\n', {}, 3, 12, /only https:\/\/ URLs/, undefined],
    ['a bad sha256', 'charms:\n  - name: a\n    charm: ./a.charm\n    sha256: abc\n', {}, 4, 13, /sha256 must be 64 lowercase hex digits/, undefined],
    ['two charms with one name', 'charms:\n  - name: a\n    charm: ./a.charm\n  - name: a\n    charm: ./b.charm\n', {}, 4, 11, /charm name "a" is already used on line 2/, undefined],
    ['a config value that is a list', 'charms:\n  - name: a\n    charm: ./a.charm\n    config: { x: [1] }\n', {}, 4, 18, /charms\[0\]\.config\.x must be a single value, found a list/, undefined],
    ['config without a bundle', 'name: x\nconfig:\n  app: { x: y }\n', {}, 2, 1, /config: sets options of the bundle's applications, but there is no bundle:/, /stock bundle with bundle:/],
    ['config of an application that is not a mapping', 'bundle: b.yaml\nconfig:\n  app: x\n', { 'b.yaml': BUNDLE }, 3, 8, /config\.app must be a mapping, found the string "x"/, undefined],
    ['a config value that is a map', 'bundle: b.yaml\nconfig:\n  app: { custom_images: { a: b/c:1 } }\n', { 'b.yaml': BUNDLE }, 3, 25, /config\.app\.custom_images must be a single value, found a mapping/, undefined],
    ['a relation of three', 'relations:\n  - [a, b]\n  - [a, b, c]\n', {}, 3, 5, /relations\[1\] must be a list of two application\[:endpoint\] strings/, /\[kfp-api:object-storage, minio:object-storage\]/],
    ['a relation with a mapping', 'relations:\n  - [a, { b: 1 }]\n', {}, 2, 5, /relations\[0\] must be a list of two/, undefined],
    ['relations as a string', 'relations: a b\n', {}, 1, 12, /relations must be a list of \[app, app\] pairs, found the string "a b"/, undefined],
    ['an invalid image', 'images:\n  - busybox:1.28\n  - Busybox:1.28\n', {}, 3, 5, /images\[1\]: invalid image reference "Busybox:1\.28": repository name "Busybox" must be lowercase/, undefined],
    ['an image that is a number', 'images:\n  - 12\n', {}, 2, 5, /images\[0\] must be a string, found the number 12/, undefined],
    ['an image both carried and ignored', 'images: [a/b:1]\nignore: [a/b:1]\n', {}, 2, 1, /a\/b:1 is both in images: and in ignore:/, undefined],
    ['a placeholder with a path', 'placeholder: 172.17.0.2:5000/x\n', {}, 1, 14, /placeholder "172\.17\.0\.2:5000\/x" must be a host/, /use placeholder: 172\.17\.0\.2:5000/],
    ['a placeholder that reads as a name', 'placeholder: registry\n', {}, 1, 14, /placeholder: invalid registry "registry"/, /add the port \(registry:443\)/],
    ['upstream as a list', 'placeholder: a.b:5000\nupstream: [docker.io]\n', {}, 2, 11, /upstream must be a mapping/, /"\*": docker\.io/],
    ['an upstream with a scheme', 'placeholder: a.b:5000\nupstream:\n  "*": https://docker.io\n', {}, 3, 8, /upstream "\*": invalid registry "https:\/\/docker\.io": it has a URL scheme/, /drop the scheme: docker\.io/],
    ['a bad platform', 'platforms: [amd64]\n', {}, 1, 13, /platforms: "amd64" is not OS\/ARCH\[\/VARIANT\]/, /linux\/amd64/],
    ['a version that is a list', 'version: [1, 7]\n', {}, 1, 10, /version must be a string, found a list/, undefined],
    ['a YAML syntax error', 'name: x\nimages: [a:1, b:2\nplatforms: []\n', {}, 3, 1, /invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a \]$/, undefined],
    ['a duplicate key', 'name: x\nimages: []\nname: y\n', {}, 3, 1, /invalid YAML: Map keys must be unique/, undefined],
    ['a missing bundle', 'name: x\nbundle: ./nope.yaml\n', {}, 2, 9, /bundle: \.\/nope\.yaml does not exist/, /relative to airgap\.yaml/],
    ['a bundle that is not a bundle', 'name: x\nbundle: other.yaml\n', { 'other.yaml': 'foo: bar\n' }, 2, 9, /bundle: other\.yaml is not a Juju bundle/, undefined],
    ['a manifests glob matching nothing', 'name: x\nmanifests:\n  - k8s/*.yaml\n  - missing/*.yaml\n', { 'k8s/a.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: { name: a }\n' }, 4, 5, /manifests: missing\/\*\.yaml matches no file/, /k8s\/\*\.yaml/],
  ];

  it.each(rows)('refuses %s', async (_what, text, files, line, column, message, hint) => {
    const file = await release(text, files);
    const error = await failure(file);
    expect(error.file).toBe(file);
    expect(error.line).toBe(line);
    expect(error.column).toBe(column);
    expect(error.message).toContain(`${file}:${line}`);
    expect(error.message).toMatch(message);
    if (hint !== undefined) expect(error.hint).toMatch(hint);
  });
});

describe('a wrong bundle named by airgap.yaml', () => {
  it('points at the bundle line', async () => {
    const file = await release('name: x\nbundle: b.yaml\n', { 'b.yaml': 'applications:\n  app:\n    charm: ./app.charm\n    resources: [oops]\n' });
    const error = await failure(file);
    expect(error.file).toBe(path.join(path.dirname(file), 'b.yaml'));
    expect(error.line).toBe(4);
    expect(error.message).toMatch(/b\.yaml:4:16: applications\.app\.resources must be a mapping, found a list/);
  });
});
