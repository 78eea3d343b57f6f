/**
 * Image references inside free-text option values. Charm options hold images as plain values, as
 * Python-list strings ("['a:1','b:2']") and as JSON-like maps that are not valid JSON (a trailing comma),
 * so the value is read as text: cut into tokens, and a token is kept when it reads as an image.
 * The same values also hold URLs, paths, versions and `key:value` pairs; the rules below keep those out.
 */
import { tryParseReference } from '../reference.ts';
import type { ImageReference } from '../reference.ts';

const SEPARATORS = /[\s"'`,;=()[\]{}]+/;

/** A tag that reads as a version (`1.28`, `v1.7.0`, `21.09-py3`) rather than a word or a port (`ingress`, `5000`). */
const VERSION_TAG = /^v?\d+(?:\.\d+)+(?:[-_+.][\w.-]*)?$/;

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** Registries that serve images: a name under them is an image even without a tag. */
const KNOWN_REGISTRIES = [
  'docker.io', 'index.docker.io', 'registry-1.docker.io', 'quay.io', 'gcr.io', 'ghcr.io', 'registry.k8s.io', 'k8s.gcr.io',
  'public.ecr.aws', 'mcr.microsoft.com', 'nvcr.io', 'registry.gitlab.com', 'docker.elastic.co', 'registry.redhat.io',
  'registry.access.redhat.com', 'rocks.canonical.com', 'cr.l5d.io', 'registry.opensource.zalan.do',
];
const KNOWN_REGISTRY_SUFFIXES = ['.gcr.io', '.pkg.dev', '.amazonaws.com', '.azurecr.io'];

export interface ImageShapeOptions {
  /** The placeholder host of the release: a name under it is an image even without a tag. */
  placeholder?: string | undefined;
}

/** A public registry by name (docker.io, quay.io, gcr.io, *.pkg.dev, ...). */
export function isKnownRegistry(host: string): boolean {
  const bare = host.replace(/:\d+$/, '');
  return KNOWN_REGISTRIES.includes(bare) || KNOWN_REGISTRY_SUFFIXES.some((suffix) => bare.endsWith(suffix));
}

/** A host on this machine: 127.0.0.0/8, localhost, [::1]. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return bare === 'localhost' || bare === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(bare);
}

/**
 * Whether a registry host is one that images are pulled from, as opposed to a DNS name that merely
 * precedes a '/' (`serving.knative.dev/v1`, an API group).
 */
function isRegistryHost(host: string, options: ImageShapeOptions): boolean {
  if (host === options.placeholder) return true;
  const bare = host.startsWith('[') ? host : host.replace(/:\d+$/, '');
  if (bare !== host || bare === 'localhost' || bare.startsWith('[') || IPV4.test(bare)) return true;
  return KNOWN_REGISTRIES.includes(bare) || KNOWN_REGISTRY_SUFFIXES.some((suffix) => bare.endsWith(suffix));
}

/**
 * Whether a parsed token found in free text is an image: one with a tag or digest under a registry host;
 * one under a registry that serves images; or, without a host, one with a digest, a '/' in its name and
 * a tag, or a version-shaped tag (`busybox:1.28`, but not `localhost:5000` or `kind:ingress`).
 */
export function looksLikeImage(ref: ImageReference, options: ImageShapeOptions = {}): boolean {
  if (ref.host !== undefined) {
    return ref.tag !== undefined || ref.digest !== undefined || isRegistryHost(ref.host, options);
  }
  if (ref.digest !== undefined) return true;
  if (ref.tag === undefined) return false;
  return ref.name.includes('/') || ref.tag === 'latest' || VERSION_TAG.test(ref.tag);
}

/**
 * Stricter, for a charm's data files, where prose and label selectors (`bindings.knative.dev/include:true`)
 * sit beside images: a host that is not a known registry needs a version-shaped tag, `latest` or a digest.
 */
export function looksLikeImageInData(ref: ImageReference): boolean {
  if (!looksLikeImage(ref)) return false;
  if (ref.host === undefined || ref.digest !== undefined || isRegistryHost(ref.host, {})) return true;
  return ref.tag === 'latest' || (ref.tag !== undefined && VERSION_TAG.test(ref.tag));
}

/** The image references written in `text`, in order, repeats included. */
export function findImageReferences(text: string, options: ImageShapeOptions = {}, shape: (ref: ImageReference) => boolean = (ref) => looksLikeImage(ref, options)): string[] {
  const found: string[] = [];
  for (const token of text.split(SEPARATORS)) {
    if (token === '' || token.includes('://')) continue;
    const ref = tryParseReference(token);
    if (ref !== undefined && shape(ref)) found.push(token);
  }
  return found;
}

/**
 * Whether a Juju resource value names an image. A resource value may also be a revision number or a
 * file name (`./crd.yaml`, `model.tar`): those do not parse, or parse with neither host nor tag.
 */
export function isResourceImage(value: string): boolean {
  const ref = tryParseReference(value);
  return ref !== undefined && (ref.host !== undefined || ref.tag !== undefined || ref.digest !== undefined);
}
