import { describe, expect, it } from 'vitest';
import { InvalidReferenceError } from '../src/errors.ts';
import { apiHost, formatReference, parseReference, parseRegistryLocation, tryParseReference, withRegistry } from '../src/reference.ts';
import type { ImageReference } from '../src/reference.ts';

const SHA = `sha256:${'0123456789abcdef'.repeat(4)}`;
const MYSQL_TAG = '3b6a4a63971acec3b71a0178cd093014a695ddf7c31d91d56ebb110eec6cdbe1';

type Expected = Omit<ImageReference, 'original'> & { formatted: string };

const valid: [string, Expected][] = [
  // The CKF examples.
  ['172.17.0.2:5000/python:3.7', { host: '172.17.0.2:5000', registry: '172.17.0.2:5000', name: 'python', repository: 'python', tag: '3.7', digest: undefined, path: 'python:3.7', formatted: '172.17.0.2:5000/python:3.7' }],
  ['quay.io/metallb/speaker:v0.13.3', { host: 'quay.io', registry: 'quay.io', name: 'metallb/speaker', repository: 'metallb/speaker', tag: 'v0.13.3', digest: undefined, path: 'metallb/speaker:v0.13.3', formatted: 'quay.io/metallb/speaker:v0.13.3' }],
  ['172.17.0.2:5000/google-containers/busybox', { host: '172.17.0.2:5000', registry: '172.17.0.2:5000', name: 'google-containers/busybox', repository: 'google-containers/busybox', tag: undefined, digest: undefined, path: 'google-containers/busybox:latest', formatted: '172.17.0.2:5000/google-containers/busybox:latest' }],
  ['busybox:1.28', { host: undefined, registry: 'docker.io', name: 'busybox', repository: 'library/busybox', tag: '1.28', digest: undefined, path: 'busybox:1.28', formatted: 'docker.io/library/busybox:1.28' }],
  [`172.17.0.2:5000/canonical/charmed-mysql:${MYSQL_TAG}`, { host: '172.17.0.2:5000', registry: '172.17.0.2:5000', name: 'canonical/charmed-mysql', repository: 'canonical/charmed-mysql', tag: MYSQL_TAG, digest: undefined, path: `canonical/charmed-mysql:${MYSQL_TAG}`, formatted: `172.17.0.2:5000/canonical/charmed-mysql:${MYSQL_TAG}` }],
  ['172.17.0.2:5000/knative-releases/knative.dev/eventing/cmd/webhook:v1.8.1', { host: '172.17.0.2:5000', registry: '172.17.0.2:5000', name: 'knative-releases/knative.dev/eventing/cmd/webhook', repository: 'knative-releases/knative.dev/eventing/cmd/webhook', tag: 'v1.8.1', digest: undefined, path: 'knative-releases/knative.dev/eventing/cmd/webhook:v1.8.1', formatted: '172.17.0.2:5000/knative-releases/knative.dev/eventing/cmd/webhook:v1.8.1' }],
  // Docker Hub normalisation.
  ['python', { host: undefined, registry: 'docker.io', name: 'python', repository: 'library/python', tag: undefined, digest: undefined, path: 'python:latest', formatted: 'docker.io/library/python:latest' }],
  ['metallb/speaker', { host: undefined, registry: 'docker.io', name: 'metallb/speaker', repository: 'metallb/speaker', tag: undefined, digest: undefined, path: 'metallb/speaker:latest', formatted: 'docker.io/metallb/speaker:latest' }],
  ['docker.io/python:3.7', { host: 'docker.io', registry: 'docker.io', name: 'python', repository: 'library/python', tag: '3.7', digest: undefined, path: 'python:3.7', formatted: 'docker.io/library/python:3.7' }],
  ['index.docker.io/library/python', { host: 'index.docker.io', registry: 'docker.io', name: 'library/python', repository: 'library/python', tag: undefined, digest: undefined, path: 'library/python:latest', formatted: 'docker.io/library/python:latest' }],
  ['registry-1.docker.io/python:3', { host: 'registry-1.docker.io', registry: 'docker.io', name: 'python', repository: 'library/python', tag: '3', digest: undefined, path: 'python:3', formatted: 'docker.io/library/python:3' }],
  // Hosts: localhost, ports, IPv6; a first segment without '.' or ':' is not a host.
  ['localhost/foo', { host: 'localhost', registry: 'localhost', name: 'foo', repository: 'foo', tag: undefined, digest: undefined, path: 'foo:latest', formatted: 'localhost/foo:latest' }],
  ['localhost:5000/foo/bar:baz', { host: 'localhost:5000', registry: 'localhost:5000', name: 'foo/bar', repository: 'foo/bar', tag: 'baz', digest: undefined, path: 'foo/bar:baz', formatted: 'localhost:5000/foo/bar:baz' }],
  ['[::1]:5000/foo:bar', { host: '[::1]:5000', registry: '[::1]:5000', name: 'foo', repository: 'foo', tag: 'bar', digest: undefined, path: 'foo:bar', formatted: '[::1]:5000/foo:bar' }],
  ['[fe80::1]/team/app', { host: '[fe80::1]', registry: '[fe80::1]', name: 'team/app', repository: 'team/app', tag: undefined, digest: undefined, path: 'team/app:latest', formatted: '[fe80::1]/team/app:latest' }],
  ['example.com:443/team/app:1.0', { host: 'example.com:443', registry: 'example.com:443', name: 'team/app', repository: 'team/app', tag: '1.0', digest: undefined, path: 'team/app:1.0', formatted: 'example.com:443/team/app:1.0' }],
  ['library/app', { host: undefined, registry: 'docker.io', name: 'library/app', repository: 'library/app', tag: undefined, digest: undefined, path: 'library/app:latest', formatted: 'docker.io/library/app:latest' }],
  // No '/': the ':' starts a tag, as distribution reads it.
  ['172.17.0.2:5000', { host: undefined, registry: 'docker.io', name: '172.17.0.2', repository: 'library/172.17.0.2', tag: '5000', digest: undefined, path: '172.17.0.2:5000', formatted: 'docker.io/library/172.17.0.2:5000' }],
  // Digests.
  [`x/y@${SHA}`, { host: undefined, registry: 'docker.io', name: 'x/y', repository: 'x/y', tag: undefined, digest: SHA, path: `x/y@${SHA}`, formatted: `docker.io/x/y@${SHA}` }],
  [`x/y:t@${SHA}`, { host: undefined, registry: 'docker.io', name: 'x/y', repository: 'x/y', tag: 't', digest: SHA, path: `x/y:t@${SHA}`, formatted: `docker.io/x/y:t@${SHA}` }],
  [`quay.io/a/b@sha512:${'ab'.repeat(64)}`, { host: 'quay.io', registry: 'quay.io', name: 'a/b', repository: 'a/b', tag: undefined, digest: `sha512:${'ab'.repeat(64)}`, path: `a/b@sha512:${'ab'.repeat(64)}`, formatted: `quay.io/a/b@sha512:${'ab'.repeat(64)}` }],
  // Separators and tag characters.
  ['g/a_b.c__d-e---f:TAG_1.x-y', { host: undefined, registry: 'docker.io', name: 'g/a_b.c__d-e---f', repository: 'g/a_b.c__d-e---f', tag: 'TAG_1.x-y', digest: undefined, path: 'g/a_b.c__d-e---f:TAG_1.x-y', formatted: 'docker.io/g/a_b.c__d-e---f:TAG_1.x-y' }],
  [`foo:${'a'.repeat(128)}`, { host: undefined, registry: 'docker.io', name: 'foo', repository: 'library/foo', tag: 'a'.repeat(128), digest: undefined, path: `foo:${'a'.repeat(128)}`, formatted: `docker.io/library/foo:${'a'.repeat(128)}` }],
];

const invalid: [string, RegExp][] = [
  ['', /empty/],
  [' python', /whitespace/],
  ['Python:3.7', /must be lowercase/],
  ['quay.io/Metallb/speaker', /must be lowercase/],
  ['foo:bar:baz', /invalid path component "foo:bar"/],
  ['foo:', /invalid tag ""/],
  ['foo:-bad', /invalid tag "-bad"/],
  [`foo:${'a'.repeat(129)}`, /invalid tag/],
  ['foo@sha256:abc', /must be sha256: and 64 lowercase hex/],
  [`foo@sha256:${'A'.repeat(64)}`, /64 lowercase hex/],
  ['foo@md5:xyz', /invalid digest/],
  ['http://example.com/foo:1', /URL/],
  ['/foo', /empty path component/],
  ['foo//bar', /empty path component/],
  ['foo/bar/', /empty path component/],
  ['-foo', /invalid path component "-foo"/],
  ['foo_-bar', /invalid path component/],
  ['foo___bar', /invalid path component/],
  ['exa_mple.com/foo', /invalid registry host/],
  ['host:port/foo', /invalid port/],
  ['[::1/foo', /unclosed IPv6/],
  ['quay.io/', /repository name is empty/],
  [`quay.io/${'a'.repeat(250)}`, /longer than 255/],
];

describe('parseReference', () => {
  it.each(valid)('parses %s', (text, expected) => {
    const { formatted, ...fields } = expected;
    const ref = parseReference(text);
    expect(ref).toEqual({ original: text, ...fields });
    expect(formatReference(ref)).toBe(formatted);
    expect(tryParseReference(text)).toEqual(ref);
  });

  it.each(invalid)('rejects %j', (text, why) => {
    expect(() => parseReference(text)).toThrow(InvalidReferenceError);
    expect(() => parseReference(text)).toThrow(why);
    expect(() => parseReference(text)).toThrow(`"${text}"`);
    expect(tryParseReference(text)).toBeUndefined();
  });

  it('formats two spellings of one Docker Hub image the same', () => {
    const spellings = ['python', 'python:latest', 'docker.io/python', 'docker.io/library/python:latest', 'index.docker.io/library/python'];
    expect(new Set(spellings.map((s) => formatReference(parseReference(s))))).toEqual(new Set(['docker.io/library/python:latest']));
  });
});

describe('withRegistry', () => {
  const rows: [string, string, string][] = [
    ['172.17.0.2:5000/python:3.7', 'reg.local:443/mirror', 'reg.local:443/mirror/python:3.7'],
    ['172.17.0.2:5000/python:3.7', 'reg.local:443', 'reg.local:443/python:3.7'],
    ['172.17.0.2:5000/python:3.7', 'air-gapped.registry.com/a/b/', 'air-gapped.registry.com/a/b/python:3.7'],
    ['quay.io/metallb/speaker:v0.13.3', 'air-gapped.registry.com', 'air-gapped.registry.com/metallb/speaker:v0.13.3'],
    ['172.17.0.2:5000/google-containers/busybox', 'localhost:5000', 'localhost:5000/google-containers/busybox:latest'],
    ['busybox:1.28', '10.0.0.5:5000/hub', '10.0.0.5:5000/hub/busybox:1.28'],
    [`x/y:t@${SHA}`, '[::1]:5000', `[::1]:5000/x/y:t@${SHA}`],
    [`x/y@${SHA}`, 'localhost', `localhost/x/y@${SHA}`],
  ];
  it.each(rows)('puts %s under %s', (ref, registry, expected) => {
    expect(withRegistry(ref, registry)).toBe(expected);
    expect(withRegistry(parseReference(ref), registry)).toBe(expected);
    // The result must read back with the registry as its host, or clients would push elsewhere.
    expect(parseReference(expected).path.endsWith(parseReference(ref).path)).toBe(true);
  });

  it('refuses a registry that clients would read as a repository name', () => {
    expect(() => withRegistry('python:3.7', 'myregistry')).toThrow(/would be read as a repository name/);
  });
});

describe('parseRegistryLocation', () => {
  const good: [string, string, string | undefined][] = [
    ['air-gapped.registry.com', 'air-gapped.registry.com', undefined],
    ['172.17.0.2:5000', '172.17.0.2:5000', undefined],
    ['reg.local:443/mirror/kubeflow', 'reg.local:443', 'mirror/kubeflow'],
    ['localhost', 'localhost', undefined],
    ['localhost:5000/', 'localhost:5000', undefined],
    ['[::1]:5000/x', '[::1]:5000', 'x'],
  ];
  it.each(good)('splits %s', (text, host, prefix) => {
    expect(parseRegistryLocation(text)).toEqual({ host, prefix });
  });

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['https://reg.local', /URL scheme/],
    ['myregistry', /would be read as a repository name/],
    ['reg.local:http', /invalid port/],
    ['reg_local.com', /invalid registry host/],
    ['reg.local/Mirror', /must be lowercase/],
    ['reg.local/a//b', /invalid path component/],
  ];
  it.each(bad)('rejects %j', (text, why) => {
    expect(() => parseRegistryLocation(text)).toThrow(InvalidReferenceError);
    expect(() => parseRegistryLocation(text)).toThrow(why);
  });
});

describe('apiHost', () => {
  it.each([
    ['docker.io', 'registry-1.docker.io'],
    ['quay.io', 'quay.io'],
    ['172.17.0.2:5000', '172.17.0.2:5000'],
  ])('speaks to %s at %s', (registry, host) => {
    expect(apiHost(registry)).toBe(host);
  });
});
