import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { pack as createPack } from 'tar-stream';
import type { ResolvedImage } from '../collect/resolved-image.ts';
import { layoutEntries, type BlobOpener } from './image-layout.ts';
import { appendEntry, tarSize, type TarEntry } from './tar-entry.ts';

// Tar names over 100 bytes need pax headers, which would break the size computed ahead; shorten instead.
const MAX_NAME = 96;

/** `kubeflownotebookswg/jupyter-web-app:v1.7.0` -> `kubeflownotebookswg_jupyter-web-app_v1.7.0.tar`. */
export function perImageFileName(path: string): string {
  const base = path.replace(/@sha256:([a-f0-9]{12})[a-f0-9]*/, '@$1').replace(/[/:@]/g, '_');
  if (base.length <= MAX_NAME) return `${base}.tar`;
  // A shortened name keeps a hash of the whole path, so two long paths (or a path and its -2 variant) stay apart.
  const hash = createHash('sha256').update(path).digest('hex').slice(0, 12);
  return `${base.slice(0, MAX_NAME - hash.length - 1)}_${hash}.tar`;
}

/**
 * The guide's layout: one docker-loadable tar per image (itself an OCI layout and docker-archive of that
 * image alone, with its referrers when they are carried), nested in the outer archive. Each inner tar's size
 * is computed from the descriptors, so it streams straight in without a temporary file. Layers shared between
 * images are stored once per image, as in the guide.
 */
export function perImageEntries(images: readonly ResolvedImage[], openBlob: BlobOpener): TarEntry[] {
  const names = new Set<string>();
  return images.filter((image) => image.referrer === undefined).map((image) => {
    let name = perImageFileName(image.path);
    for (let n = 2; names.has(name); n++) name = perImageFileName(`${image.path}-${n}`);
    names.add(name);
    const inner = layoutEntries([image, ...images.filter((r) => r.referrer?.of === image.path)], openBlob);
    return {
      name,
      size: tarSize(inner),
      open: () => innerTar(inner),
    };
  });
}

async function* innerTar(entries: readonly TarEntry[]): AsyncIterable<Buffer> {
  const pack = createPack();
  const out = new PassThrough();
  pack.pipe(out);
  const filling = (async () => {
    for (const entry of entries) await appendEntry(pack, entry);
    pack.finalize();
  })();
  filling.catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  for await (const chunk of out) yield chunk as Buffer;
  await filling;
}
