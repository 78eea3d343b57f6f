import type { LockedReferrer } from '../lock.ts';
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

/** How a referrer was found: the OCI 1.1 referrers API, the referrers tag schema's index, or a tag of cosign's. */
export type ReferrerSource = LockedReferrer['found'];

/** What makes a resolved tree a referrer (a signature, an SBOM, an attestation) rather than an image of the release. */
export interface ReferrerInfo {
  /** The path of the image it belongs to: it lives in that image's repository. */
  of: string;
  /** The digest it refers to: the image's, one of its manifests', or another referrer's. */
  subject: string;
  found: ReferrerSource;
  /** The tag it was found under (cosign's `sha256-<hex>.sig`, `.att`, `.sbom`): load tags it so again. */
  tag?: string;
  artifactType?: string;
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
  /** When narrowed: the digest of the index upstream serves. */
  upstreamDigest?: string;
  /** Set when this tree is a referrer carried with an image (`collect --with-referrers`), not an image itself. */
  referrer?: ReferrerInfo;
}
