/**
 * The digest algorithms the registry stores, as the OCI image spec registers them: sha256 (the canonical one)
 * and sha512. What a digest in a URL or a descriptor must look like to name something here, how bytes are
 * hashed for each, and where each lives in an image layout (`blobs/<algorithm>/<encoded>`).
 */
import { createHash, type Hash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha512';

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];

const SUPPORTED = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** A digest the registry can store and verify: sha256 or sha512, lowercase hex of the right length. */
export function isSupportedDigest(digest: string): boolean {
  return SUPPORTED.test(digest);
}

export function isDigestAlgorithm(text: string): text is DigestAlgorithm {
  return (DIGEST_ALGORITHMS as readonly string[]).includes(text);
}

/** The algorithm of a supported digest (callers check it with isSupportedDigest first). */
export function algorithmOf(digest: string): DigestAlgorithm {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

// The spec's grammar for any digest: neither part can hold a `/` or start with a `.`.
const ANY_DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Shaped like a digest (algorithm:encoded), whether or not the registry can store that algorithm. */
export function looksLikeDigest(text: string): boolean {
  return ANY_DIGEST.test(text);
}

/** `[algorithm, encoded]`: a digest's place under a layout's `blobs/`. Throws for what is not a digest. */
export function blobSubPath(digest: string): [string, string] {
  const match = ANY_DIGEST.exec(digest);
  if (match?.[1] === undefined || match[2] === undefined) throw new Error(`${digest} is not a digest`);
  return [match[1], match[2]];
}
