import { ArchiveError } from '../errors.ts';
import { parseManifest, type Descriptor } from '../oci/descriptor.ts';
import { sha256Digest } from '../oci/digest.ts';
import { DOCKER_CONFIG, DOCKER_MANIFEST, isIndexMediaType } from '../oci/media-types.ts';
import { CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION, referrerOfEntry, type ArchivedReferrer } from '../archive/image-layout.ts';
import { tryParseReference } from '../reference.ts';

/**
 * An image found in the archive: its path (name in the private registry) and its top manifest. A referrer
 * carried with an image (`collect --with-referrers`) is one too, at its own path (the image's repository with
 * its cosign tag, or its digest), marked as such: it is pushed after the images, never listed as one.
 */
export interface ArchiveImage {
  path: string;
  digest: string;
  mediaType: string;
  size: number;
  referrer?: ArchivedReferrer;
  /** Set for a second name of an image (Docker Hub's `library/` path, hub-aliases.ts): the image's path. */
  aliasOf?: string;
}

export interface ManifestDocument {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

// docker save (Docker 20.10) keeps uncompressed layer tars and no registry manifest; we write one.
const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

interface DockerSaveEntry {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

function pathFromName(name: string): string | undefined {
  const ref = tryParseReference(name);
  return ref?.path;
}

/**
 * What an archive holds, learnt from its small members as they pass: the images, their manifests,
 * and which image needs which blob. Works whatever the member order; the order only decides whether
 * a blob can be pushed when it passes or must wait for a second pass.
 */
export class ArchiveContents {
  readonly images = new Map<string, ArchiveImage>();
  readonly manifests = new Map<string, ManifestDocument>();
  /** Blob digest -> paths of the images that need it. */
  readonly blobUsers = new Map<string, Set<string>>();
  readonly blobSizes = new Map<string, number>();
  /** Member names of docker-save layers -> their digest (they are not stored by digest). */
  readonly memberDigests = new Map<string, string>();
  readonly memberSizes = new Map<string, number>();
  /** Small blobs kept until we know what they are (a docker-save config passes before manifest.json). */
  readonly heldBlobs = new Map<string, Buffer>();
  #dockerSave: DockerSaveEntry[] = [];
  #sawIndex = false;

  get isDockerSave(): boolean {
    return !this.#sawIndex && this.#dockerSave.length > 0;
  }

  /** index.json of an OCI layout (ours, a per-image tar's, or Docker 25's docker save). */
  addIndex(bytes: Buffer, member: string): ArchiveImage[] {
    this.#sawIndex = true;
    const parsed = parseManifest(bytes, undefined, member);
    if (parsed.kind !== 'index') throw new ArchiveError(`${member} is not an OCI index`);
    const added: ArchiveImage[] = [];
    for (const entry of parsed.index.manifests) {
      const refName = entry.annotations?.[REF_NAME_ANNOTATION];
      const fullName = entry.annotations?.[CONTAINERD_NAME_ANNOTATION];
      const referrer = referrerOfEntry(entry);
      // Ours annotate the path; Docker's own layouts annotate only the tag, with the full name beside it.
      const path = referrer?.path ?? (refName !== undefined && /[:@]/.test(refName) ? refName : fullName === undefined ? undefined : pathFromName(fullName));
      if (path === undefined) throw new ArchiveError(`${member}: image ${entry.digest} has no name (${REF_NAME_ANNOTATION})`);
      const image: ArchiveImage = { path, digest: entry.digest, mediaType: entry.mediaType, size: entry.size, ...(referrer === undefined ? {} : { referrer }) };
      this.images.set(path, image);
      added.push(image);
      const known = this.manifests.get(entry.digest);
      if (known !== undefined) this.#registerUsers(known, path);
    }
    return added;
  }

  /** A second name for `image`: the same manifests and blobs, pushed at `path` as well. */
  addAlias(image: ArchiveImage, path: string): ArchiveImage {
    const alias: ArchiveImage = { path, digest: image.digest, mediaType: image.mediaType, size: image.size, aliasOf: image.path };
    this.images.set(path, alias);
    const known = this.manifests.get(image.digest);
    if (known !== undefined) this.#registerUsers(known, path);
    return alias;
  }

  /** manifest.json of a docker-archive: only needed when there is no index.json (docker save before 25). */
  addDockerManifest(bytes: Buffer, member: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (err: unknown) {
      throw new ArchiveError(`${member} is not valid JSON`, { cause: err });
    }
    if (!Array.isArray(parsed)) throw new ArchiveError(`${member} is not a docker-archive manifest`);
    this.#dockerSave = parsed as DockerSaveEntry[];
    for (const entry of this.#dockerSave) {
      // Layers stored by digest (ours, Docker 25's) are found by their names; only docker save's
      // <id>/layer.tar members need their digest worked out from the config.
      if (!Array.isArray(entry.Layers)) continue;
      for (const layer of entry.Layers) if (typeof layer === 'string' && !layer.startsWith('blobs/')) this.memberDigests.set(layer, '');
    }
  }

  /** Is this digest a manifest an image of the archive needs? */
  isWantedManifest(digest: string): boolean {
    if ([...this.images.values()].some((i) => i.digest === digest)) return true;
    for (const doc of this.manifests.values()) {
      if (!isIndexMediaType(doc.mediaType)) continue;
      const parsed = parseManifest(doc.bytes, doc.mediaType, doc.digest);
      if (parsed.kind === 'index' && parsed.index.manifests.some((m) => m.digest === digest)) return true;
    }
    return false;
  }

  /** A manifest or index document (recognised by its content), with the images that use it. */
  addManifestDocument(digest: string, bytes: Buffer): boolean {
    let mediaType: string;
    try {
      const parsed = parseManifest(bytes, undefined, digest);
      const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
      mediaType = typeof declared === 'string' ? declared : parsed.kind === 'index' ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json';
    } catch {
      return false;
    }
    const doc: ManifestDocument = { digest, mediaType, bytes };
    this.manifests.set(digest, doc);
    for (const image of this.images.values()) if (this.#reaches(image.digest, digest)) this.#registerUsers(doc, image.path);
    return true;
  }

  #reaches(top: string, digest: string): boolean {
    if (top === digest) return true;
    const doc = this.manifests.get(top);
    if (doc === undefined || !isIndexMediaType(doc.mediaType)) return false;
    const parsed = parseManifest(doc.bytes, doc.mediaType, top);
    return parsed.kind === 'index' && parsed.index.manifests.some((m) => m.digest === digest);
  }

  #registerUsers(doc: ManifestDocument, path: string): void {
    const parsed = parseManifest(doc.bytes, doc.mediaType, doc.digest);
    if (parsed.kind === 'index') {
      for (const child of parsed.index.manifests) {
        const known = this.manifests.get(child.digest);
        if (known !== undefined) this.#registerUsers(known, path);
      }
      return;
    }
    for (const blob of [parsed.manifest.config, ...parsed.manifest.layers]) this.#use(blob, path);
  }

  #use(blob: Descriptor, path: string): void {
    let users = this.blobUsers.get(blob.digest);
    if (users === undefined) {
      users = new Set();
      this.blobUsers.set(blob.digest, users);
    }
    users.add(path);
    this.blobSizes.set(blob.digest, blob.size);
  }

  /** Every manifest of an image, children before their index: the order they must be pushed in. */
  manifestsOf(image: ArchiveImage): ManifestDocument[] {
    const top = this.manifests.get(image.digest);
    if (top === undefined) throw new ArchiveError(`the archive has no manifest ${image.digest} for image ${image.path}`, { hint: 'the archive is truncated or incomplete: copy it across again' });
    if (!isIndexMediaType(top.mediaType)) return [top];
    const parsed = parseManifest(top.bytes, top.mediaType, top.digest);
    if (parsed.kind !== 'index') return [top];
    const children = parsed.index.manifests.map((m) => {
      const child = this.manifests.get(m.digest);
      if (child === undefined) throw new ArchiveError(`the archive lacks manifest ${m.digest} of image ${image.path}`, { hint: 'the archive is truncated or incomplete: copy it across again' });
      return child;
    });
    return [...children, top];
  }

  /** Is every manifest of every image known (so every blob they need is known too)? */
  allManifestsKnown(): boolean {
    for (const image of this.images.values()) {
      const top = this.manifests.get(image.digest);
      if (top === undefined) return false;
      if (!isIndexMediaType(top.mediaType)) continue;
      const parsed = parseManifest(top.bytes, top.mediaType, top.digest);
      if (parsed.kind === 'index' && parsed.index.manifests.some((m) => !this.manifests.has(m.digest))) return false;
    }
    return this.images.size > 0;
  }

  /** Blobs (configs and layers) an image needs. */
  blobsOf(image: ArchiveImage): Descriptor[] {
    const blobs: Descriptor[] = [];
    for (const doc of this.manifestsOf(image)) {
      const parsed = parseManifest(doc.bytes, doc.mediaType, doc.digest);
      if (parsed.kind === 'manifest') blobs.push(parsed.manifest.config, ...parsed.manifest.layers);
    }
    return blobs;
  }

  /**
   * docker save before Docker 25 wrote no registry manifest: build a Docker v2 manifest per image from
   * its config (held in memory) and the layer tars' sizes. Its digest is new: the original is lost.
   */
  synthesiseDockerSaveImages(): string[] {
    const warnings: string[] = [];
    const configs = new Map<string, { configDigest: string; config: Buffer; layers: string[]; diffIds: string[] }>();
    // Every layer's digest first: a layer shared by two images is stored once, and docker save makes the
    // other <id>/layer.tar a symlink to it (which passes as no file), so its size is found by digest.
    for (const entry of this.#dockerSave) {
      const configName = typeof entry.Config === 'string' ? entry.Config : undefined;
      const layers = Array.isArray(entry.Layers) ? entry.Layers.filter((l): l is string => typeof l === 'string') : [];
      if (configName === undefined) throw new ArchiveError('manifest.json has an image without Config');
      const configDigest = `sha256:${configName.replace(/\.json$/, '').replace(/^blobs\/sha256\//, '')}`;
      const config = this.heldBlobs.get(configDigest);
      if (config === undefined) throw new ArchiveError(`the archive lacks the config ${configName}`, { hint: 'the archive is truncated or incomplete' });
      const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
      if (!Array.isArray(diffIds) || diffIds.length !== layers.length) throw new ArchiveError(`config ${configName} does not match its layers in manifest.json`);
      const ids = diffIds.map(String);
      layers.forEach((name, i) => this.memberDigests.set(name, ids[i] as string));
      configs.set(configName, { configDigest, config, layers, diffIds: ids });
    }
    const sizeByDigest = new Map<string, number>();
    for (const [name, digest] of this.memberDigests) {
      const size = this.memberSizes.get(name);
      if (size !== undefined && digest !== '') sizeByDigest.set(digest, size);
    }
    for (const entry of this.#dockerSave) {
      const tags = Array.isArray(entry.RepoTags) ? entry.RepoTags.filter((t): t is string => typeof t === 'string') : [];
      const { configDigest, config, layers, diffIds } = configs.get(entry.Config as string) as { configDigest: string; config: Buffer; layers: string[]; diffIds: string[] };
      const layerDescriptors = layers.map((name, i) => {
        const digest = diffIds[i] as string;
        const size = this.memberSizes.get(name) ?? sizeByDigest.get(digest);
        if (size === undefined) throw new ArchiveError(`the archive lacks layer ${name}`, { hint: 'the archive is truncated or incomplete' });
        return { mediaType: DOCKER_LAYER_TAR, digest, size };
      });
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: DOCKER_MANIFEST,
        config: { mediaType: DOCKER_CONFIG, digest: configDigest, size: config.length },
        layers: layerDescriptors,
      }));
      const digest = sha256Digest(manifest);
      if (tags.length === 0) {
        warnings.push(`image ${configDigest} in manifest.json has no tag: skipped`);
        continue;
      }
      const doc: ManifestDocument = { digest, mediaType: DOCKER_MANIFEST, bytes: manifest };
      this.manifests.set(digest, doc);
      for (const tag of tags) {
        const path = pathFromName(tag);
        if (path === undefined) continue;
        this.images.set(path, { path, digest, mediaType: DOCKER_MANIFEST, size: manifest.length });
        this.#registerUsers(doc, path);
      }
    }
    return warnings;
  }
}
