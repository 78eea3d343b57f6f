/**
 * Where the artifacts about an image (signatures, SBOMs, attestations) are found besides the OCI 1.1 referrers
 * API: the referrers tag schema that OCI 1.1 clients keep on registries without that API (a tag `sha256-<hex>`
 * holding an index of the referrers), and cosign's own convention (`sha256-<hex>.sig`, `.att`, `.sbom`).
 */

import { pathRepository } from '../reference.ts';

/** cosign's tags for what it attaches to a digest: signatures, attestations, SBOMs. */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;
export type CosignSuffix = (typeof COSIGN_SUFFIXES)[number];

/** A tag is at most 128 characters: the distribution spec's grammar, which the referrers tag schema truncates to. */
const MAX_TAG = 128;

/** `sha256:<hex>` -> `sha256-<hex>`: the referrers tag schema's tag for a subject digest. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-').slice(0, MAX_TAG);
}

/** `sha256:<hex>` -> `sha256-<hex>.sig` (or `.att`, `.sbom`): where cosign puts what it attaches to that digest. */
export function cosignTag(digest: string, suffix: CosignSuffix): string {
  return `${digest.replace(':', '-')}.${suffix}`;
}

/**
 * Where a referrer lives beside the image `imagePath`: in its repository, under the cosign tag it was found
 * with (`team/app:sha256-<hex>.sig`), else by its digest alone (`team/app@sha256:…`).
 */
export function referrerPath(imagePath: string, digest: string, tag: string | undefined): string {
  const repository = pathRepository(imagePath);
  return tag === undefined ? `${repository}@${digest}` : `${repository}:${tag}`;
}
