import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rewriteString, rewriteYamlText } from '../../src/bundle/rewrite.ts';
import { ReleaseFileError } from '../../src/errors.ts';

const CKF = resolve(import.meta.dirname, '../fixtures/ckf');
const PLACEHOLDER = '172.17.0.2:5000';
const REGISTRY = 'registry.airgap.example:443/mirror';

function read(name: string): { file: string; text: string } {
  const file = resolve(CKF, name);
  return { file, text: readFileSync(file, 'utf8') };
}

describe('rewrite of the real Charmed Kubeflow bundles', () => {
  it.each(['1.7-bundle-airgap.yaml', 'latest-bundle-airgap.yaml', '1.7-stable-bundle.yaml', '1.9-stable-bundle.yaml'])(
    '%s: every placeholder replaced, nothing else in the file changed',
    async (name) => {
      const { file, text } = read(name);
      const occurrences = text.split(PLACEHOLDER).length - 1;
      const result = await rewriteYamlText(file, text, { placeholder: PLACEHOLDER, registry: REGISTRY, collected: new Map() });
      expect(result.text).not.toContain(PLACEHOLDER);
      expect(result.rewritten.filter((r) => r.before.startsWith(PLACEHOLDER))).toHaveLength(occurrences);
      // The registry name appears nowhere in the original, so putting the placeholder back must give the
      // original byte for byte: the text outside the replaced spans is untouched (comments, quotes, order).
      expect(text).not.toContain(REGISTRY);
      expect(result.text.split(REGISTRY).join(PLACEHOLDER)).toBe(text);
    },
  );

  it('1.7: names each rewrite by YAML path and line, inside plain values, Python lists and JSON-like maps', async () => {
    const { file, text } = read('1.7-bundle-airgap.yaml');
    const result = await rewriteYamlText(file, text, { placeholder: PLACEHOLDER, registry: REGISTRY, collected: new Map() });
    expect(result.rewritten).toContainEqual({
      yamlPath: 'applications.dex-auth.resources.oci-image', line: 9,
      before: `${PLACEHOLDER}/dexidp/dex:v2.31.2`, after: `${REGISTRY}/dexidp/dex:v2.31.2`,
    });
    const lines = text.split('\n');
    const customImages = result.rewritten.filter((r) => r.yamlPath.endsWith('custom_images'));
    expect(customImages.length).toBeGreaterThan(5);
    const jupyter = result.rewritten.filter((r) => r.yamlPath.endsWith('jupyter-images'));
    expect(jupyter.length).toBeGreaterThan(1);
    for (const r of result.rewritten) expect(lines[r.line - 1] ?? '', r.yamlPath).toContain(r.before.split('/')[0]);
  });

  it('1.7: busybox:1.28 has no placeholder: reported as unreachable, or rewritten when collected', async () => {
    const { file, text } = read('1.7-bundle-airgap.yaml');
    const plain = await rewriteYamlText(file, text, { placeholder: PLACEHOLDER, registry: REGISTRY, collected: new Map() });
    expect(plain.unreachable).toEqual([{ yamlPath: 'applications.istio-pilot.options.image-configuration', line: 24, reference: 'busybox:1.28' }]);
    expect(plain.text).toContain('"busybox:1.28"');

    const collected = await rewriteYamlText(file, text, { placeholder: PLACEHOLDER, registry: REGISTRY, collected: new Map([['busybox:1.28', `${REGISTRY}/busybox:1.28`]]) });
    expect(collected.unreachable).toEqual([]);
    expect(collected.text).toContain(`"${REGISTRY}/busybox:1.28"`);
    expect(collected.rewritten).toContainEqual({ yamlPath: 'applications.istio-pilot.options.image-configuration', line: 24, before: 'busybox:1.28', after: `${REGISTRY}/busybox:1.28` });
    // Only that token changed on that line.
    const before = text.split('\n')[23] ?? '';
    const after = collected.text.split('\n')[23] ?? '';
    expect(after.split(REGISTRY).join(PLACEHOLDER).replace(`"${PLACEHOLDER}/busybox:1.28"`, '"busybox:1.28"')).toBe(before);
  });
});

describe('rewriteString and token boundaries', () => {
  const options = { placeholder: PLACEHOLDER, registry: 'reg:5000', collected: new Map([['busybox:1.28', 'reg:5000/busybox:1.28']]) };
  it.each([
    ['plain', `${PLACEHOLDER}/a/b:1`, 'reg:5000/a/b:1'],
    ['python list', `['${PLACEHOLDER}/a:1','${PLACEHOLDER}/b:2']`, "['reg:5000/a:1','reg:5000/b:2']"],
    ['json-like map with trailing comma', `{"x": "${PLACEHOLDER}/a:1", }`, '{"x": "reg:5000/a:1", }'],
    ['collected host-less token', 'init=busybox:1.28', 'init=reg:5000/busybox:1.28'],
    ['not inside a longer name', 'docker.io/library/busybox:1.28', 'docker.io/library/busybox:1.28'],
    ['not a prefix of a longer tag', 'busybox:1.28.1', 'busybox:1.28.1'],
    ['a hub prefix is rewritten too', `${PLACEHOLDER}/istio`, 'reg:5000/istio'],
    ['the host of a URL is swapped', `http://${PLACEHOLDER}/v2/`, 'http://reg:5000/v2/'],
    ['not the start of a longer host', `${PLACEHOLDER}1/a:1 x${PLACEHOLDER}/a:1`, `${PLACEHOLDER}1/a:1 x${PLACEHOLDER}/a:1`],
  ])('%s', (_name, value, expected) => {
    expect(rewriteString(value, options).value).toBe(expected);
  });
});

describe('references the rewrite cannot parse', () => {
  const options = { placeholder: PLACEHOLDER, registry: 'reg:5000', collected: new Map<string, string>() };
  const bundle = (reference: string): string => `applications:\n  app:\n    charm: app\n    options:\n      images: "sidecar ${reference}"\n`;

  it.each([
    ['upper case', `${PLACEHOLDER}/Shop/Web:1.0`, 'repository name "Shop/Web" must be lowercase'],
    ['a 300-character tag', `${PLACEHOLDER}/web:${'v'.repeat(300)}`, 'invalid tag'],
    ['non-ASCII', `${PLACEHOLDER}/wéb:1.0`, 'invalid path component "wéb"'],
  ])('%s: an error at its line and column, never a rewrite', async (_name, reference, why) => {
    const err = await rewriteYamlText('/r/bundle.yaml', bundle(reference), options).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ReleaseFileError);
    expect((err as ReleaseFileError).message).toContain(`/r/bundle.yaml:5:24: applications.app.options.images: invalid image reference`);
    expect((err as ReleaseFileError).message).toContain(why);
    expect((err as ReleaseFileError).message).toContain(`it carries the placeholder ${PLACEHOLDER} but cannot be rewritten`);
    expect((err as ReleaseFileError).hint).toContain('list it under ignore: in airgap.yaml');
    expect(rewriteString(`x ${reference}`, options).invalid.map((i) => i.reference)).toEqual([reference]);
  });

  it('one that becomes invalid only under the registry prefix is refused too', async () => {
    // 16 + 236 characters fit the grammar's 255; under `reg:5000/some/prefix/` (21) they do not.
    const name = 'a'.repeat(236);
    await expect(rewriteYamlText('/r/b.yaml', bundle(`${PLACEHOLDER}/${name}:1`), options)).resolves.toBeDefined();
    await expect(rewriteYamlText('/r/b.yaml', bundle(`${PLACEHOLDER}/${name}:1`), { ...options, registry: 'reg:5000/some/prefix' })).rejects.toThrow(
      /: rewritten for reg:5000\/some\/prefix: invalid image reference "reg:5000\/some\/prefix\/a+:1": the name is longer than 255 characters; it carries/,
    );
  });

  it('leaves what ignore: lists, bare hosts and URLs alone', async () => {
    const text = bundle(`${PLACEHOLDER}/Hub-Prefix ${PLACEHOLDER} ${PLACEHOLDER}/ https://${PLACEHOLDER}/v2/_catalog`);
    const result = await rewriteYamlText('/r/b.yaml', text, { ...options, ignore: [`${PLACEHOLDER}/Hub-Prefix`] });
    expect(result.text).toContain('reg:5000/Hub-Prefix reg:5000 reg:5000/ https://reg:5000/v2/_catalog');
  });
});
