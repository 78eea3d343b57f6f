/**
 * Read an OCI image layout directory into the registry's content: every image its index.json names, every
 * manifest it reaches (hashed: they are small, and a wrong one would be served under a digest it does not
 * have), and where each blob is (checked by size; the bytes are not read, so a large layout opens at once).
 * Problems that leave the rest servable (a missing layer, an unnamed entry) are warnings.
 */
import { readFile, stat } from 'node:fs/promises';
import { messageOf } from '../errors.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { CONTAINERD_NAME_ANNOTATION } from '../archive/image-layout.ts';
import type { RegistryContent } from './content.ts';
import { algorithmOf, digestOf, isSupportedDigest } from './digest.ts';
import { manifestOf, type StoredManifest } from './manifest.ts';
import { layoutBlobPath, readLayoutIndex, type LayoutImage } from './layout.ts';

export interface OpenLayoutOptions {
  /** The layout is the server's store: its images are written back to its index.json after a push. */
  isStore: boolean;
  warn: (message: string) => void;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/** One manifest and everything under it, into `content`. Returns undefined when the top one is unusable. */
async function loadTree(dir: string, descriptor: Descriptor, content: RegistryContent, where: string, warn: (m: string) => void): Promise<StoredManifest | undefined> {
  // Shared by several images (or found in another layout already): its blobs were located then.
  const known = content.manifests.get(descriptor.digest);
  if (known !== undefined) return known;
  if (!isSupportedDigest(descriptor.digest)) {
    warn(`${where}: manifest ${descriptor.digest} has a digest this registry cannot check (sha256 or sha512): not served`);
    return undefined;
  }
  const path = layoutBlobPath(dir, descriptor.digest);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    warn(`${where}: manifest ${descriptor.digest} is missing from ${dir}: not served`);
    return undefined;
  }
  const actual = digestOf(bytes, algorithmOf(descriptor.digest));
  if (actual !== descriptor.digest) {
    warn(`${where}: ${path} hashes to ${actual}, not its name: not served`);
    return undefined;
  }
  let manifest: StoredManifest;
  try {
    manifest = content.addManifest(manifestOf(descriptor.digest, descriptor.mediaType, bytes));
  } catch (err: unknown) {
    warn(`${where}: ${messageOf(err)}: not served`);
    return undefined;
  }
  for (const child of manifest.children ?? []) await loadTree(dir, child, content, where, warn);
  for (const blob of manifest.blobs) {
    // Foreign layers (Windows bases) live at their URLs, never in a layout.
    if (blob.urls !== undefined && blob.urls.length > 0) continue;
    if (!isSupportedDigest(blob.digest)) {
      warn(`${where}: blob ${blob.digest} has a digest this registry cannot check: pulls of this image will fail`);
      continue;
    }
    const blobPath = layoutBlobPath(dir, blob.digest);
    const size = await fileSize(blobPath);
    if (size === undefined) {
      warn(`${where}: blob ${blob.digest} is missing from ${dir}: pulls of this image will fail`);
      continue;
    }
    if (size !== blob.size) {
      warn(`${where}: blob ${blob.digest} has ${size} bytes in ${dir}, its manifest says ${blob.size}: not served`);
      continue;
    }
    content.addBlob(blob.digest, { path: blobPath, size });
  }
  return manifest;
}

/** Serve one image of a layout: load its tree, then link and tag it under its repository. */
export async function openLayoutImage(dir: string, image: LayoutImage, content: RegistryContent, options: OpenLayoutOptions): Promise<boolean> {
  const where = `image ${image.name}${image.tag === undefined ? `@${image.descriptor.digest}` : `:${image.tag}`}`;
  const top = await loadTree(dir, image.descriptor, content, where, options.warn);
  if (top === undefined) return false;
  if (image.tag === undefined) content.link(image.name, top.digest);
  else content.tag(image.name, image.tag, top.digest);
  if (options.isStore) {
    const upstream = image.descriptor.annotations?.[CONTAINERD_NAME_ANNOTATION];
    content.recordInStore(image.name, image.tag, { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length },
      upstream === undefined ? {} : { [CONTAINERD_NAME_ANNOTATION]: upstream });
  }
  return true;
}

/** Every image of the layout in `dir`. Returns how many are served. */
export async function openLayout(dir: string, content: RegistryContent, options: OpenLayoutOptions): Promise<number> {
  const index = await readLayoutIndex(dir);
  for (const entry of index.unnamed) {
    options.warn(`${dir}/index.json: entry ${entry.digest} names no repository (org.opencontainers.image.ref.name NAME:TAG): not served`);
  }
  let served = 0;
  for (const image of index.images) if (await openLayoutImage(dir, image, content, options)) served++;
  return served;
}
