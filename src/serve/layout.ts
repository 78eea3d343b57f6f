/**
 * An OCI image layout directory read as a source of images: index.json names them, blobs/sha256/ holds
 * every manifest and blob by digest. What `airgap collect` archives, skopeo's oci: transport, and the
 * server's own store all are.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArchiveError, messageOf } from '../errors.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION, referrerOfEntry } from '../archive/image-layout.ts';
import { tryParseReference } from '../reference.ts';
import { blobSubPath } from './digest.ts';
import { splitPath } from './names.ts';

/** Marks index.json entries the store keeps for a repository with no tag (manifests pushed by digest). */
export const REPOSITORY_ANNOTATION = 'dev.airgap.serve.repository';

export function isImageLayout(dir: string): boolean {
  return existsSync(join(dir, 'oci-layout')) && existsSync(join(dir, 'index.json'));
}

export function layoutBlobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', ...blobSubPath(digest));
}

/** One image a layout names: where it lives in the registry (repository, tag if any) and its top descriptor. */
export interface LayoutImage {
  name: string;
  tag: string | undefined;
  descriptor: Descriptor;
}

/**
 * The repository and tag an index.json entry stands for: `org.opencontainers.image.ref.name` as airgap writes it
 * (the image's path, `team/app:1.0`), else the full name containerd and Docker 25 write beside a bare tag, else
 * the store's own repository annotation; a referrer `collect --with-referrers` carried goes in its image's repository,
 * by digest or under its cosign tag. Undefined when the entry names no repository.
 */
export function imageOfEntry(entry: Descriptor): LayoutImage | undefined {
  const referrer = referrerOfEntry(entry);
  if (referrer !== undefined) {
    const split = splitPath(referrer.path);
    return split === undefined ? undefined : { name: split.name, tag: split.tag, descriptor: entry };
  }
  const refName = entry.annotations?.[REF_NAME_ANNOTATION];
  const fullName = entry.annotations?.[CONTAINERD_NAME_ANNOTATION];
  const repository = entry.annotations?.[REPOSITORY_ANNOTATION];
  let path: string | undefined;
  // Our paths carry no host, so they are split as they stand: parsing one as a reference would take a
  // dotted first component (`my.team/app:1`) for a registry host.
  if (refName !== undefined && /[:@]/.test(refName)) path = splitPath(refName) === undefined ? tryParseReference(refName)?.path : refName;
  else if (fullName !== undefined) path = tryParseReference(fullName)?.path;
  if (path !== undefined) {
    const split = splitPath(path);
    if (split !== undefined) return { name: split.name, tag: split.tag, descriptor: entry };
  }
  if (repository !== undefined && splitPath(repository)?.tag === undefined) {
    // A bare tag in ref.name (skopeo's oci:DIR:TAG) with our repository annotation beside it.
    const tag = refName !== undefined && /^[\w][\w.-]{0,127}$/.test(refName) ? refName : undefined;
    return { name: repository, tag, descriptor: entry };
  }
  return undefined;
}

export interface LayoutIndex {
  images: LayoutImage[];
  /** Entries that name no repository: they cannot be served under any name. */
  unnamed: Descriptor[];
}

export async function readLayoutIndex(dir: string): Promise<LayoutIndex> {
  const file = join(dir, 'index.json');
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err: unknown) {
    throw new ArchiveError(`${file} cannot be read as JSON: ${messageOf(err)}`, { cause: err, hint: 'give an OCI image layout directory, the directory holding images.tar.gz, or the archive' });
  }
  const manifests = (doc as { manifests?: unknown }).manifests;
  if (!Array.isArray(manifests)) throw new ArchiveError(`${file} is not an OCI index (no manifests list)`);
  const images: LayoutImage[] = [];
  const unnamed: Descriptor[] = [];
  for (const entry of manifests as Descriptor[]) {
    if (typeof entry?.digest !== 'string' || typeof entry.mediaType !== 'string' || typeof entry.size !== 'number') {
      throw new ArchiveError(`${file}: an entry is not a descriptor (mediaType, digest, size)`);
    }
    const image = imageOfEntry(entry);
    if (image === undefined) unnamed.push(entry);
    else images.push(image);
  }
  return { images, unnamed };
}
