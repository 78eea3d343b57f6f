import type { Descriptor } from '../oci/descriptor.ts';

/** A manifest or config held in memory: small JSON documents, kept byte for byte as served. */
export interface StoredDocument {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** What docker's manifest.json needs to load one runnable image of an entry. */
export interface DockerLoadable {
  config: Descriptor;
  layers: Descriptor[];
}

/**
 * An image whose manifests and configs have been fetched: everything about it is known but its
 * layers' bytes, so the archive's small files can be written before the first layer arrives.
 */
export interface ResolvedImage {
  /** The reference as written in the release (placeholder host and all). */
  written: string;
  /** The full reference it was pulled from. */
  upstream: string;
  /** Registry and repository it was pulled from (normalised). */
  registry: string;
  repository: string;
  /** Its name in the archive and in the private registry: the reference without host. */
  path: string;
  /** The top manifest or index; its digest is the one pushed and recorded. */
  top: StoredDocument;
  /** Every manifest document, the top one included, by digest. */
  manifests: Map<string, StoredDocument>;
  configs: Map<string, StoredDocument>;
  /** Every layer, once, in manifest order. */
  layers: Descriptor[];
  docker: DockerLoadable | undefined;
  platforms: string[];
  /** Sum of every distinct blob of the image, manifests included. */
  totalBytes: number;
  /** True when --platform dropped entries from the index, so the top digest is not upstream's. */
  narrowed: boolean;
}
