import { randomBytes } from 'node:crypto';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { perImageEntries, perImageFileName } from '../../src/archive/per-image.ts';
import type { ResolvedImage } from '../../src/collect/resolved-image.ts';
import { sha256Digest } from '../../src/oci/digest.ts';
import { OCI_CONFIG, OCI_MANIFEST } from '../../src/oci/media-types.ts';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('perImageFileName', () => {
  it.each([
    ['kubeflownotebookswg/jupyter-web-app:v1.7.0', 'kubeflownotebookswg_jupyter-web-app_v1.7.0.tar'],
    ['python:3.7', 'python_3.7.tar'],
    ['metallb/speaker:v0.13.3', 'metallb_speaker_v0.13.3.tar'],
    ['charmedkubeflow/argoexec:v3.3.9_22.04_1', 'charmedkubeflow_argoexec_v3.3.9_22.04_1.tar'],
    ['a/b/c/d:tag', 'a_b_c_d_tag.tar'],
    ['library/busybox', 'library_busybox.tar'],
    [`busybox@${DIGEST}`, 'busybox_0123456789ab.tar'],
    [`ml-pipeline/frontend:2.0.0@${DIGEST}`, 'ml-pipeline_frontend_2.0.0_0123456789ab.tar'],
  ])('%s -> %s', (path, name) => {
    expect(perImageFileName(path)).toBe(name);
  });

  it.each([
    ['a long repository', `${'x'.repeat(40)}/${'y'.repeat(80)}:v1`],
    ['a long tag', `repo:${'t'.repeat(128)}`],
    ['a long path and a digest', `${'p/'.repeat(60)}img@${DIGEST}`],
    ['exactly 96 bytes', `${'r'.repeat(93)}:v1`],
    ['97 bytes', `${'r'.repeat(94)}:v1`],
    ['255 bytes', `${'n'.repeat(252)}:v1`],
  ])('keeps the tar name within 100 bytes for %s', (_name, path) => {
    const name = perImageFileName(path);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(100);
    expect(name.endsWith('.tar')).toBe(true);
    expect(name).not.toMatch(/[/:@]/);
  });

  it('keeps a 96-byte name whole', () => {
    const path = `${'r'.repeat(93)}:v1`;
    expect(perImageFileName(path)).toBe(`${'r'.repeat(93)}_v1.tar`);
  });

  // perImageEntries de-duplicates names by retrying with `${path}-2`, `-3`, ...: that only ends if the
  // suffix changes the name, which it must also do once the name has been shortened.
  it.each([
    ['short paths', 'a/b:c'],
    ['a path past the cap', `${'kubeflow/'.repeat(12)}image:v1.7.0`],
  ])('gives different names to a path and its de-duplicated variants (%s)', (_name, path) => {
    const names = new Set([perImageFileName(path), perImageFileName(`${path}-2`), perImageFileName(`${path}-3`)]);
    expect(names.size).toBe(3);
  });

  it('gives different names to long paths that differ only past the cap', () => {
    const prefix = 'registry-mirror/'.repeat(7);
    expect(perImageFileName(`${prefix}image:v1`)).not.toBe(perImageFileName(`${prefix}image:v2`));
  });
});

describe('perImageEntries', () => {
  function image(path: string, layer: Buffer): ResolvedImage {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const configDesc = { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length };
    const layerDesc = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256Digest(layer), size: layer.length };
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers: [layerDesc] }));
    const top = { descriptor: { mediaType: OCI_MANIFEST, digest: sha256Digest(manifest), size: manifest.length }, bytes: manifest };
    return {
      written: `172.17.0.2:5000/${path}`,
      upstream: `docker.io/${path}`,
      registry: 'docker.io',
      repository: path.split(':')[0]!,
      path,
      top,
      manifests: new Map([[top.descriptor.digest, top]]),
      configs: new Map([[configDesc.digest, { descriptor: configDesc, bytes: config }]]),
      layers: [layerDesc],
      docker: { config: configDesc, layers: [layerDesc] },
      platforms: ['linux/amd64'],
      totalBytes: manifest.length + config.length + layer.length,
      narrowed: false,
    };
  }

  async function drain(source: AsyncIterable<Buffer>): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async function tarNames(tar: Buffer): Promise<string[]> {
    const names: string[] = [];
    const ex = extract();
    ex.on('entry', (header, stream, next) => {
      names.push(header.name);
      stream.on('end', next);
      stream.resume();
    });
    const done = new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
    });
    ex.end(tar);
    await done;
    return names;
  }

  it('names colliding paths apart and announces each inner tar at its real size', async () => {
    const layers = new Map<string, Buffer>();
    const images = ([['a/b:c', randomBytes(1500)], ['a_b:c', randomBytes(513)], ['kubeflow/x:v1', Buffer.alloc(0)]] as const).map(([path, layer]) => {
      const img = image(path, layer);
      layers.set(img.layers[0]!.digest, layer);
      return img;
    });
    const entries = perImageEntries(images, (_img, blob) => (async function* () {
      yield layers.get(blob.digest)!;
    })());
    expect(entries.map((e) => e.name)).toEqual(['a_b_c.tar', 'a_b_c-2.tar', 'kubeflow_x_v1.tar']);
    for (const [i, entry] of entries.entries()) {
      const inner = await drain(entry.open!());
      expect(inner.length).toBe(entry.size);
      const img = images[i]!;
      expect(await tarNames(inner)).toEqual([
        'oci-layout',
        'index.json',
        'manifest.json',
        `blobs/sha256/${img.top.descriptor.digest.slice(7)}`,
        `blobs/sha256/${img.docker!.config.digest.slice(7)}`,
        `blobs/sha256/${img.layers[0]!.digest.slice(7)}`,
      ]);
    }
  });
});
