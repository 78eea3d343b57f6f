import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReleaseFileError } from '../../src/errors.ts';
import { parseImageList } from '../../src/release/image-list.ts';
import { loadRelease, planImages } from '../../src/release/index.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-list-');

describe('image lists', () => {
  it('reads one reference a line, skipping comments and blank lines', async () => {
    const file = path.join(tmp.path, 'ckf-images.txt');
    await writeFile(file, '# Charmed Kubeflow extras\n\n172.17.0.2:5000/python:3.7\r\n  quay.io/metallb/speaker:v0.13.3   # MetalLB\nbusybox:1.28\n\t\n172.17.0.2:5000/python:3.7\n');
    const release = await loadRelease(file);
    expect(release).toMatchObject({ kind: 'image-list', name: 'ckf-images', version: '', files: [file], placeholder: undefined, warnings: [] });
    expect(release.mentions).toEqual([
      { reference: '172.17.0.2:5000/python:3.7', file, yamlPath: 'images[0]', line: 3 },
      { reference: 'quay.io/metallb/speaker:v0.13.3', file, yamlPath: 'images[1]', line: 4 },
      { reference: 'busybox:1.28', file, yamlPath: 'images[2]', line: 5 },
      { reference: '172.17.0.2:5000/python:3.7', file, yamlPath: 'images[3]', line: 7 },
    ]);
    expect(planImages(release).map((p) => [p.written, p.upstream, p.path, p.mentions.length])).toEqual([
      ['172.17.0.2:5000/python:3.7', '172.17.0.2:5000/python:3.7', 'python:3.7', 2],
      ['quay.io/metallb/speaker:v0.13.3', 'quay.io/metallb/speaker:v0.13.3', 'metallb/speaker:v0.13.3', 1],
      ['busybox:1.28', 'docker.io/library/busybox:1.28', 'busybox:1.28', 1],
    ]);
  });

  it.each([
    ['a:1\nNot/Valid:1\n', 2, /invalid image reference "Not\/Valid:1": repository name "Not\/Valid" must be lowercase/],
    ['\n\na:1 b:2\n', 3, /one image reference a line/],
    ['http://example.com/a:1\n', 1, /URL/],
  ])('refuses %j at line %i', (text, line, message) => {
    const error = ((): unknown => {
      try {
        return parseImageList('/x/images.txt', text);
      } catch (err: unknown) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ReleaseFileError);
    expect(error).toMatchObject({ file: '/x/images.txt', line, message: expect.stringMatching(message) });
    expect((error as Error).message.startsWith(`/x/images.txt:${line}: `)).toBe(true);
  });
});
