import { UsageError } from '../errors.ts';
import type { Descriptor, Platform } from './descriptor.ts';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant: string | undefined;
}

/** Parse `os/arch[/variant]` as given to --platform. */
export function parsePlatform(text: string): PlatformSpec {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new UsageError(`--platform ${text}: expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const [os = '', architecture = '', variant] = parts;
  return { os, architecture, variant };
}

export function formatPlatform(platform: Platform | PlatformSpec): string {
  return [platform.os, platform.architecture, platform.variant].filter((p) => p !== undefined && p !== '').join('/');
}

// arm64's only variant is v8: an index entry without variant and a request for linux/arm64/v8 are the same thing.
function normalisedVariant(architecture: string, variant: string | undefined): string | undefined {
  if (architecture === 'arm64' && (variant === undefined || variant === 'v8')) return 'v8';
  return variant;
}

export function platformMatches(platform: Platform | undefined, spec: PlatformSpec): boolean {
  if (platform === undefined) return false;
  if (platform.os !== spec.os || platform.architecture !== spec.architecture) return false;
  // A spec without variant takes every variant of the architecture.
  if (spec.variant === undefined) return true;
  return normalisedVariant(platform.architecture, platform.variant) === normalisedVariant(spec.architecture, spec.variant);
}

/** BuildKit attaches provenance/SBOM manifests as `unknown/unknown` entries: they are not runnable images. */
export function isAttestation(descriptor: Descriptor): boolean {
  return (
    descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (descriptor.platform?.os === 'unknown' && descriptor.platform.architecture === 'unknown')
  );
}

/** The entry `docker load` should get from an index: linux/amd64 first, else the first runnable entry. */
export function pickDefaultEntry(entries: readonly Descriptor[]): Descriptor | undefined {
  const runnable = entries.filter((d) => !isAttestation(d));
  return runnable.find((d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64') ?? runnable[0];
}
