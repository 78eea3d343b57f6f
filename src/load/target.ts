import { parseReference, parseRegistryLocation } from '../reference.ts';

/** Where an image of the archive goes: REGISTRY[/PREFIX]/PATH, split for the distribution API. */
export interface ImageTarget {
  /** The full private reference, e.g. reg.local:443/mirror/python:3.7. */
  reference: string;
  repository: string;
  tag: string | undefined;
}

export interface RegistryLocation {
  host: string;
  prefix: string | undefined;
}

export function registryLocation(text: string): RegistryLocation {
  return parseRegistryLocation(text);
}

export function targetOf(location: RegistryLocation, path: string): ImageTarget {
  const base = location.prefix === undefined ? location.host : `${location.host}/${location.prefix}`;
  // The repository is everything after the host: the prefix, if any, and the image's own name.
  const parsed = parseReference(`${base}/${path}`);
  return {
    reference: `${base}/${path}`,
    repository: parsed.name,
    tag: parsed.tag ?? (parsed.digest === undefined ? 'latest' : undefined),
  };
}
