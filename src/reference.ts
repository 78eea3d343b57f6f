/**
 * Image references by the distribution/reference grammar (the one Docker, containerd and the CNCF
 * registry share), so that what we call an image's host, repository and tag is what they will call it.
 */
import { InvalidReferenceError } from './errors.ts';
import { quoted } from './util/printable.ts';

export interface ImageReference {
  /** Exactly as written. */
  original: string;
  /** Registry host as written (`172.17.0.2:5000`, `quay.io`, `localhost:5000`); undefined when none was written. */
  host: string | undefined;
  /** Normalised host: `docker.io` when none was written or for Docker Hub's other names. */
  registry: string;
  /** Repository as written, without the host (`python`, `metallb/speaker`). */
  name: string;
  /** Normalised repository: Docker Hub puts one-segment names under `library/`. */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
  /** The reference without its host, tag defaulting to `latest` when there is no digest: where it lives under any registry. */
  path: string;
}

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const MAX_NAME_LENGTH = 255;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const DOMAIN_NAME = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const OTHER_DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

function invalid(text: string, why: string): InvalidReferenceError {
  // The text comes from release files, archives and registries: quoted printable, like every name in a message.
  return new InvalidReferenceError(`invalid image reference ${quoted(text)}: ${why}`, {
    hint: 'write it as [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST], with a lowercase NAME',
  });
}

/** Why `host` (HOST[:PORT], HOST possibly a bracketed IPv6 address) is not a registry host, or undefined if it is. */
function hostProblem(host: string): string | undefined {
  let name = host;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close === -1) return `unclosed IPv6 address in host ${quoted(host)}`;
    name = host.slice(0, close + 1);
    const rest = host.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return `unexpected ${quoted(rest)} after IPv6 address in host ${quoted(host)}`;
      port = rest.slice(1);
    }
    if (!IPV6.test(name)) return `invalid IPv6 address in host ${quoted(host)}`;
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
    if (!DOMAIN_NAME.test(name)) return `invalid registry host ${quoted(host)}`;
  }
  if (port !== undefined && !PORT.test(port)) return `invalid port in registry host ${quoted(host)}`;
  return undefined;
}

/** Whether the first '/'-segment of a name is a registry host rather than a repository component. */
function looksLikeHost(segment: string): boolean {
  return segment.includes('.') || segment.includes(':') || segment === 'localhost';
}

function digestProblem(digest: string): string | undefined {
  if (digest.startsWith('sha256:')) {
    return SHA256.test(digest) ? undefined : `digest ${quoted(digest)} must be sha256: and 64 lowercase hex digits`;
  }
  return OTHER_DIGEST.test(digest) ? undefined : `invalid digest ${quoted(digest)}`;
}

/**
 * The reference, or why `text` is not one. No exception on the way: a scan of a charm tries thousands of strings
 * that are not references, and an Error (with its stack) for each would cost more than the whole scan.
 */
function analyse(text: string): ImageReference | string {
  if (text === '') return 'it is empty';
  if (text.trim() !== text) return 'it has leading or trailing whitespace';
  if (text.includes('://')) return 'a URL is not an image reference; drop the scheme';

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem !== undefined) return problem;
  }

  // A ':' after the last '/' starts the tag; one before it belongs to the host's port.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return `invalid tag ${quoted(tag)}`;
  }

  let host: string | undefined;
  let name = rest;
  const slash = rest.indexOf('/');
  if (slash !== -1 && looksLikeHost(rest.slice(0, slash))) {
    host = rest.slice(0, slash);
    name = rest.slice(slash + 1);
    const problem = hostProblem(host);
    if (problem !== undefined) return problem;
  }

  if (name === '') return 'the repository name is empty';
  if (name !== name.toLowerCase()) return `repository name ${quoted(name)} must be lowercase`;
  for (const component of name.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      return component === '' ? 'empty path component in the repository name' : `invalid path component ${quoted(component)} in the repository name`;
    }
  }
  if (rest.length > MAX_NAME_LENGTH) return `the name is longer than ${MAX_NAME_LENGTH} characters`;

  const registry = host === undefined || DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
  const repository = registry === DOCKER_HUB && !name.includes('/') ? `library/${name}` : name;
  return { original: text, host, registry, name, repository, tag, digest, path: pathOf(name, tag, digest) };
}

export function parseReference(text: string): ImageReference {
  const found = analyse(text);
  if (typeof found === 'string') throw invalid(text, found);
  return found;
}

function pathOf(name: string, tag: string | undefined, digest: string | undefined): string {
  const effectiveTag = tag ?? (digest === undefined ? 'latest' : undefined);
  return `${name}${effectiveTag === undefined ? '' : `:${effectiveTag}`}${digest === undefined ? '' : `@${digest}`}`;
}

export function tryParseReference(text: string): ImageReference | undefined {
  const found = analyse(text);
  return typeof found === 'string' ? undefined : found;
}

/** The canonical full form `registry/repository[:tag][@digest]`: two spellings of one image format the same. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${pathOf(ref.repository, ref.tag, ref.digest)}`;
}

/**
 * Split a registry location HOST[:PORT][/PREFIX] into host and prefix. The host must read as a host to
 * reference parsers (hold '.' or ':' or be localhost): otherwise `myregistry/python:3.7` would mean
 * docker.io/myregistry/python to every client.
 */
export function parseRegistryLocation(text: string): { host: string; prefix: string | undefined } {
  const bad = (why: string, hint = 'write it as HOST[:PORT][/PREFIX], e.g. registry.example.com:5000/mirror'): InvalidReferenceError =>
    new InvalidReferenceError(`invalid registry ${quoted(text)}: ${why}`, { hint });
  if (text.trim() === '') throw bad('it is empty');
  if (text.includes('://')) throw bad('it has a URL scheme', `drop the scheme: ${text.slice(text.indexOf('://') + 3)}`);
  const trimmed = text.replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  const host = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefix = slash === -1 ? undefined : trimmed.slice(slash + 1);
  const problem = hostProblem(host);
  if (problem !== undefined) throw bad(problem);
  if (!looksLikeHost(host)) {
    throw bad(`${quoted(host)} would be read as a repository name, not a host`, `add the port (${host}:443) or the domain (${host}.example.com)`);
  }
  if (prefix !== undefined) {
    if (prefix !== prefix.toLowerCase()) throw bad(`prefix ${quoted(prefix)} must be lowercase`);
    for (const component of prefix.split('/')) {
      if (!PATH_COMPONENT.test(component)) throw bad(`invalid path component ${quoted(component)} in the prefix`);
    }
  }
  return { host, prefix };
}

/** The image at `registry` (HOST[:PORT][/PREFIX]) under its path. */
export function withRegistry(ref: ImageReference | string, registry: string): string {
  const parsed = typeof ref === 'string' ? parseReference(ref) : ref;
  const { host, prefix } = parseRegistryLocation(registry);
  return `${host}${prefix === undefined ? '' : `/${prefix}`}/${parsed.path}`;
}

/** The repository of an image path (`team/app:1.0`, `x/y@sha256:…`): `team/app`, `x/y`. Paths carry no host. */
export function pathRepository(path: string): string {
  const at = path.indexOf('@');
  const name = at === -1 ? path : path.slice(0, at);
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
}

/** Host that the HTTP API is spoken to: Docker Hub serves its API under another name. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}
