/**
 * An images archive (images.tar.gz of `airgap collect` in either layout, an OCI layout tarred, or `docker save`
 * output) unpacked once into the store: every blob is hashed as it is written and renamed under its digest
 * only when it matches. A store that already holds a blob skips it without writing, and when the archive's
 * head shows the store already holds every image (a restart), the rest of the archive is not read at all.
 */
import { readFile } from 'node:fs/promises';
import type { ArchiveFiles } from '../archive/archive-files.ts';
import { readArchive, type ArchiveMember } from '../archive/read-archive.ts';
import { blobDigestOfMember, CONTAINERD_NAME_ANNOTATION } from '../archive/image-layout.ts';
import { ArchiveError, DigestMismatchError } from '../errors.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { ArchiveContents } from '../load/archive-contents.ts';
import type { BlobStore } from './blob-store.ts';
import { manifestOf } from './manifest.ts';
import type { ServeEventListener } from './events.ts';
import { splitPath } from './names.ts';
import type { LayoutImage } from './layout.ts';

// index.json, manifest.json and docker-save configs are read into memory; nothing else is.
const SMALL_MEMBER_BYTES = 16 * 1024 * 1024;

class StopReading extends Error {}

export interface UnpackResult {
  images: LayoutImage[];
  /** Blobs written to the store this time. */
  written: number;
  writtenBytes: number;
  /** Blobs the store already had. */
  reused: number;
  /** The archive was read to its end (false: its head showed the store had everything). */
  readWhole: boolean;
}

async function readSmall(member: ArchiveMember): Promise<Buffer> {
  if (member.size > SMALL_MEMBER_BYTES) throw new ArchiveError(`${member.name} is ${member.size} bytes: too large for what it should be`);
  const chunks: Buffer[] = [];
  for await (const chunk of member.stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Is the tree under `descriptor` wholly in the store already (manifests parse, blobs have their sizes)? */
async function storeHasTree(store: BlobStore, descriptor: Descriptor): Promise<boolean> {
  if ((await store.size(descriptor.digest)) !== descriptor.size) return false;
  let manifest;
  try {
    manifest = manifestOf(descriptor.digest, descriptor.mediaType, await readFile(store.blobPath(descriptor.digest)));
  } catch {
    return false;
  }
  for (const child of manifest.children ?? []) if (!(await storeHasTree(store, child))) return false;
  for (const blob of manifest.blobs) {
    if (blob.urls !== undefined && blob.urls.length > 0) continue;
    if ((await store.size(blob.digest)) !== blob.size) return false;
  }
  return true;
}

export async function unpackArchive(files: ArchiveFiles, store: BlobStore, options: { signal?: AbortSignal; onEvent?: ServeEventListener } = {}): Promise<UnpackResult> {
  const archive = files.path;
  const emit = options.onEvent ?? (() => {});
  const contents = new ArchiveContents();
  const upstreams = new Map<string, string>();
  /** docker save's layer tars: member name -> digest as stored. */
  const layerTars = new Map<string, string>();
  const result = { written: 0, writtenBytes: 0, reused: 0 };
  let readWhole = true;
  const onMember = async (member: ArchiveMember): Promise<void> => {
    const base = member.baseName;
    if (base === 'index.json') {
      const bytes = await readSmall(member);
      const added = contents.addIndex(bytes, member.name);
      const parsed = JSON.parse(bytes.toString('utf8')) as { manifests: Descriptor[] };
      for (const entry of parsed.manifests) {
        const upstream = entry.annotations?.[CONTAINERD_NAME_ANNOTATION];
        if (upstream !== undefined) upstreams.set(entry.digest, upstream);
      }
      // The archive's own index comes first: if the store holds all it names, this is a restart.
      if (member.name === base && added.length > 0) {
        let complete = true;
        for (const image of added) {
          if (!(await storeHasTree(store, { mediaType: image.mediaType, digest: image.digest, size: image.size }))) {
            complete = false;
            break;
          }
        }
        if (complete) throw new StopReading();
      }
      return;
    }
    if (base === 'manifest.json') {
      contents.addDockerManifest(await readSmall(member), member.name);
      return;
    }
    const digest = blobDigestOfMember(base);
    if (digest !== undefined) {
      if (base.endsWith('.json')) {
        // A docker-save config: held in memory until manifest.json says which image it is.
        const bytes = await readSmall(member);
        contents.heldBlobs.set(digest, bytes);
        await store.writeVerified(digest, member.size, [bytes], `${member.name} in ${archive}`);
        return;
      }
      if ((await store.size(digest)) === member.size) {
        result.reused++;
        emit({ type: 'unpack-blob', digest, size: member.size, written: false });
        return;
      }
      await store.writeVerified(digest, member.size, member.stream, `blob ${digest} (${member.name} in ${archive})`);
      result.written++;
      result.writtenBytes += member.size;
      emit({ type: 'unpack-blob', digest, size: member.size, written: true });
      return;
    }
    if (base === 'layer.tar' || base.endsWith('/layer.tar')) {
      const stored = await store.writeHashed(member.stream);
      layerTars.set(member.name, stored.digest);
      contents.memberSizes.set(member.name, stored.size);
      result.written++;
      result.writtenBytes += stored.size;
      emit({ type: 'unpack-blob', digest: stored.digest, size: stored.size, written: true });
    }
  };
  try {
    await readArchive(files, onMember, options.signal === undefined ? {} : { signal: options.signal });
  } catch (err: unknown) {
    if (!(err instanceof StopReading)) throw err;
    readWhole = false;
  }

  if (contents.isDockerSave) {
    // docker save before Docker 25 wrote no registry manifest: make one per image, as `airgap load` does.
    for (const warning of contents.synthesiseDockerSaveImages()) emit({ type: 'warning', message: warning });
    emit({ type: 'warning', message: `${archive} was made by docker save: its layers are uncompressed and its manifests new, so digests differ from the original registry's` });
    for (const [name, digest] of layerTars) {
      const expected = contents.memberDigests.get(name);
      if (expected !== undefined && expected !== '' && expected !== digest) {
        throw new DigestMismatchError(`${name} in ${archive} hashes to ${digest}, its image config says ${expected}`, expected, digest, { hint: 'the archive is corrupt: make it again' });
      }
    }
    for (const doc of contents.manifests.values()) await store.writeBytes(doc.bytes);
  }
  if (contents.images.size === 0) {
    throw new ArchiveError(`${archive} names no image (no index.json or manifest.json)`, { hint: 'give images.tar.gz made by airgap collect, an OCI image layout, or a docker save archive' });
  }
  const images: LayoutImage[] = [];
  for (const image of contents.images.values()) {
    const split = splitPath(image.path);
    if (split === undefined) {
      emit({ type: 'warning', message: `${archive}: image ${image.path} has no valid repository name: not served` });
      continue;
    }
    const upstream = upstreams.get(image.digest);
    images.push({
      name: split.name,
      tag: split.tag,
      descriptor: { mediaType: image.mediaType, digest: image.digest, size: image.size, ...(upstream === undefined ? {} : { annotations: { [CONTAINERD_NAME_ANNOTATION]: upstream } }) },
    });
  }
  return { images, ...result, readWhole };
}
