import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReleaseFileError } from '../../src/errors.ts';
import { detectRelease } from '../../src/release/detect.ts';
import { loadRelease } from '../../src/release/index.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-detect-');

describe('detectRelease', () => {
  it.each([
    ['images.txt', 'busybox:1.28\n', 'image-list'],
    ['IMAGES.TXT', '# only a comment\n', 'image-list'],
    ['bundle.yaml', 'bundle: kubernetes\nname: kubeflow\napplications: {}\n', 'bundle'],
    ['legacy.yaml', 'services:\n  app: { charm: cs:app }\n', 'bundle'],
    ['pod.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: { name: p }\n', 'kubernetes'],
    ['many.yml', '---\napiVersion: v1\nkind: Namespace\n---\napiVersion: v1\nkind: Service\n---\n', 'kubernetes'],
    ['airgap.yaml', 'name: demo\n', 'airgap'],
    ['release.yaml', 'placeholder: 172.17.0.2:5000\n', 'airgap'],
    // A Juju bundle has name: too: its applications: decide.
    ['named-bundle.yaml', 'name: kubeflow\napplications: {}\n', 'bundle'],
  ])('reads %s as %s', async (name, text, kind) => {
    const file = await tmp.write(name, text);
    expect((await detectRelease(file)).kind).toBe(kind);
  });

  it.each([
    ['empty.yaml', '', undefined, /the file is empty/],
    ['comments.yaml', '# nothing\n---\n', undefined, /the file is empty/],
    ['other.yaml', 'foo: 1\nbar: 2\n', undefined, /not a release file: it is a YAML mapping with keys foo, bar/],
    ['list.yaml', '- a\n- b\n', undefined, /not a release file: it is YAML holding a list/],
    ['scalar.yaml', 'hello\n', undefined, /not a release file: it is YAML holding the string "hello"/],
    ['mixed.yaml', 'apiVersion: v1\nkind: Pod\n---\nfoo: bar\n', 4, /2 YAML documents, but this one is not a Kubernetes object .* it is a YAML mapping with keys foo/],
    ['broken.yaml', 'a: [1\n', 2, /invalid YAML/],
    ['missing.yaml', undefined, undefined, /cannot read release file: no such file/],
  ])('refuses %s', async (name, text, line, message) => {
    const file = text === undefined ? path.join(tmp.path, name) : await tmp.write(name, text);
    const error = await detectRelease(file).then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(ReleaseFileError);
    expect(error).toMatchObject({ file, line, message: expect.stringMatching(message) });
    expect((error as ReleaseFileError).message.startsWith(line === undefined ? `${file}: ` : `${file}:${line}:`)).toBe(true);
    if (!/invalid YAML|cannot read/.test((error as Error).message)) expect((error as ReleaseFileError).hint).toMatch(/airgap\.yaml release manifest, a Juju bundle/);
  });

  it('refuses a directory', async () => {
    await mkdir(path.join(tmp.path, 'adir.yaml'), { recursive: true });
    await expect(loadRelease(path.join(tmp.path, 'adir.yaml'))).rejects.toThrow(/cannot read release file: it is a directory/);
  });
});
