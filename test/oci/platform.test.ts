import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.ts';
import type { Descriptor, Platform } from '../../src/oci/descriptor.ts';
import { OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { formatPlatform, isAttestation, parsePlatform, pickDefaultEntry, platformMatches } from '../../src/oci/platform.ts';

let serial = 0;
function entry(platform: Platform | undefined, annotations?: Record<string, string>): Descriptor {
  serial++;
  return {
    mediaType: OCI_MANIFEST,
    digest: `sha256:${serial.toString(16).padStart(64, '0')}`,
    size: 500 + serial,
    ...(platform === undefined ? {} : { platform }),
    ...(annotations === undefined ? {} : { annotations }),
  };
}

const attestationAnnotations = {
  'vnd.docker.reference.type': 'attestation-manifest',
  'vnd.docker.reference.digest': `sha256:${'e'.repeat(64)}`,
};

describe('parsePlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64', variant: undefined }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/ppc64le', { os: 'linux', architecture: 'ppc64le', variant: undefined }],
    ['linux/s390x', { os: 'linux', architecture: 's390x', variant: undefined }],
    ['windows/amd64', { os: 'windows', architecture: 'amd64', variant: undefined }],
    ['linux/riscv64', { os: 'linux', architecture: 'riscv64', variant: undefined }],
  ])('%s', (text, spec) => {
    expect(parsePlatform(text)).toEqual(spec);
  });

  it.each(['', 'linux', 'amd64', 'linux/', '/amd64', 'linux//v8', 'linux/arm64/', 'linux/arm64/v8/extra', 'linux amd64', 'linux/amd64 ', 'Linux/AMD64', 'linux:amd64', 'linux/am*64'])(
    'refuses %j with a usage error that shows the expected form',
    (text) => {
      let caught: unknown;
      try {
        parsePlatform(text);
      } catch (err: unknown) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(UsageError);
      expect((caught as UsageError).message).toContain(`--platform ${text}`);
      expect((caught as UsageError).message).toContain('OS/ARCH[/VARIANT]');
    },
  );

  it.each(['linux/amd64', 'linux/arm64/v8', 'linux/arm/v6'])('formats %s back to itself', (text) => {
    expect(formatPlatform(parsePlatform(text))).toBe(text);
  });
});

describe('platformMatches', () => {
  it.each<[string, Platform | undefined, string, boolean]>([
    ['exact amd64', { os: 'linux', architecture: 'amd64' }, 'linux/amd64', true],
    ['arm64 without variant, asked with v8', { os: 'linux', architecture: 'arm64' }, 'linux/arm64/v8', true],
    ['arm64 v8, asked without variant', { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'linux/arm64', true],
    ['arm64 v8, asked with v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'linux/arm64/v8', true],
    ['arm64 without variant, asked without variant', { os: 'linux', architecture: 'arm64' }, 'linux/arm64', true],
    ['arm v7, asked without variant', { os: 'linux', architecture: 'arm', variant: 'v7' }, 'linux/arm', true],
    ['arm v6, asked without variant', { os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm', true],
    ['arm v7, asked with v7', { os: 'linux', architecture: 'arm', variant: 'v7' }, 'linux/arm/v7', true],
    ['arm v6, asked with v7', { os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm/v7', false],
    ['arm without variant, asked with v7', { os: 'linux', architecture: 'arm' }, 'linux/arm/v7', false],
    ['arm64 v9, asked with v8', { os: 'linux', architecture: 'arm64', variant: 'v9' }, 'linux/arm64/v8', false],
    ['amd64 v2, asked without variant', { os: 'linux', architecture: 'amd64', variant: 'v2' }, 'linux/amd64', true],
    ['windows amd64, asked linux amd64', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.4010' }, 'linux/amd64', false],
    ['linux amd64, asked windows amd64', { os: 'linux', architecture: 'amd64' }, 'windows/amd64', false],
    ['linux arm64, asked linux amd64', { os: 'linux', architecture: 'arm64' }, 'linux/amd64', false],
    ['arm, asked arm64', { os: 'linux', architecture: 'arm', variant: 'v8' }, 'linux/arm64/v8', false],
    ['attestation unknown/unknown, asked amd64', { os: 'unknown', architecture: 'unknown' }, 'linux/amd64', false],
    ['no platform at all', undefined, 'linux/amd64', false],
  ])('%s -> %s', (_name, platform, spec, matches) => {
    expect(platformMatches(platform, parsePlatform(spec))).toBe(matches);
  });
});

describe('isAttestation', () => {
  it.each<[string, Descriptor, boolean]>([
    ['a linux/amd64 image', entry({ os: 'linux', architecture: 'amd64' }), false],
    ['an entry without platform', entry(undefined), false],
    ['an unknown/unknown entry', entry({ os: 'unknown', architecture: 'unknown' }), true],
    ['an entry annotated as attestation manifest', entry({ os: 'unknown', architecture: 'unknown' }, attestationAnnotations), true],
    ['an annotated attestation even with a real-looking platform', entry({ os: 'linux', architecture: 'amd64' }, attestationAnnotations), true],
    ['unknown os only', entry({ os: 'unknown', architecture: 'amd64' }), false],
    ['other annotations', entry({ os: 'linux', architecture: 'arm64' }, { 'org.opencontainers.image.ref.name': 'v1' }), false],
  ])('%s -> %s', (_name, descriptor, expected) => {
    expect(isAttestation(descriptor)).toBe(expected);
  });
});

describe('pickDefaultEntry', () => {
  const amd64 = entry({ os: 'linux', architecture: 'amd64' });
  const arm64 = entry({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  const armv7 = entry({ os: 'linux', architecture: 'arm', variant: 'v7' });
  const ppc = entry({ os: 'linux', architecture: 'ppc64le' });
  const winAmd64 = entry({ os: 'windows', architecture: 'amd64' });
  const unknown = entry({ os: 'unknown', architecture: 'unknown' }, attestationAnnotations);
  const annotatedAmd64 = entry({ os: 'linux', architecture: 'amd64' }, attestationAnnotations);
  const bare = entry(undefined);

  it.each<[string, Descriptor[], Descriptor | undefined]>([
    ['amd64 first', [amd64, arm64, ppc], amd64],
    ['amd64 preferred when it is not first', [arm64, armv7, amd64, ppc], amd64],
    ['linux amd64 preferred over windows amd64', [winAmd64, arm64, amd64], amd64],
    ['attestation before amd64 skipped', [unknown, amd64], amd64],
    ['an attestation marked linux/amd64 is not chosen', [annotatedAmd64, arm64, amd64], amd64],
    ['no amd64: first runnable', [arm64, ppc], arm64],
    ['no amd64: leading attestations skipped', [unknown, annotatedAmd64, ppc, arm64], ppc],
    ['no amd64: windows amd64 is the first runnable', [unknown, winAmd64, arm64], winAmd64],
    ['an entry without platform is runnable', [unknown, bare], bare],
    ['only attestations', [unknown, annotatedAmd64], undefined],
    ['empty index', [], undefined],
  ])('%s', (_name, entries, expected) => {
    expect(pickDefaultEntry(entries)).toBe(expected);
  });
});
