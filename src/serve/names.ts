/**
 * The distribution API's grammar for what arrives in a URL: repository names, tags and digests.
 * Checked before anything touches the store, so a bad request is a 400 with the spec's code, never a path.
 */

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
// Any algorithm:encoded pair the spec allows; only sha256 is stored, the rest are unknown content.
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && name.split('/').every((c) => COMPONENT.test(c));
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isSha256Digest(digest: string): boolean {
  return SHA256.test(digest);
}

/** Shaped like a digest (algorithm:hex), whether or not we can store that algorithm. */
export function looksLikeDigest(reference: string): boolean {
  return ANY_DIGEST.test(reference) && reference.includes(':');
}

/** `repo:tag` or `repo@sha256:…` as written in index.json annotations: the repository and its tag, if any. */
export function splitPath(path: string): { name: string; tag: string | undefined; digest: string | undefined } | undefined {
  let rest = path;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isSha256Digest(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) return undefined;
  }
  if (!isValidName(rest)) return undefined;
  return { name: rest, tag, digest };
}
