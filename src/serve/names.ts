/**
 * The distribution API's grammar for what arrives in a URL: repository names and tags (digests: digest.ts).
 * Checked before anything touches the store, so a bad request is a 400 with the spec's code, never a path.
 */
import { isSupportedDigest } from './digest.ts';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && name.split('/').every((c) => COMPONENT.test(c));
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}


/** `repo:tag` or `repo@sha256:…` (or sha512) as written in index.json annotations: the repository and its tag, if any. */
export function splitPath(path: string): { name: string; tag: string | undefined; digest: string | undefined } | undefined {
  let rest = path;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isSupportedDigest(digest)) return undefined;
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
