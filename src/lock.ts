import { readFile } from 'node:fs/promises';
import { AirgapError } from './errors.ts';
import { AtomicFile } from './fs/atomic-file.ts';

export const LOCK_FILE_NAME = 'airgap-lock.json';
export const LOCK_VERSION = 1;

export interface LockMention {
  file: string;
  yamlPath: string;
  line: number | undefined;
  /** Found inside a charm: the application(s) deploying it. */
  applications?: string[];
}

export interface LockedImage {
  /** The reference as written in the release. */
  reference: string;
  /** The full reference pulled. */
  upstream: string;
  /** Its name without host: where it lives in the private registry, under REGISTRY[/PREFIX]. */
  path: string;
  /** Digest of the top manifest or index: the one pushed and expected at the private registry. */
  digest: string;
  mediaType: string;
  platforms: string[];
  /** Sum of its distinct blobs, manifests included. */
  size: number;
  /** True when --platform narrowed a multi-arch index, so `digest` is not the upstream one. */
  narrowed: boolean;
  mentions: LockMention[];
  /** Why collect added it when the release does not name it (Juju's own images: jujud-operator, juju-db, charm-base). */
  reason?: string;
  /** With `collect --with-referrers`: the signatures, SBOMs and attestations carried with it. */
  referrers?: LockedReferrer[];
}

/** A referrer carried with an image: an artifact about it, or about one of its manifests, or about another referrer. */
export interface LockedReferrer {
  /** Its manifest (or index) digest, pushed unchanged beside the image. */
  digest: string;
  mediaType: string;
  artifactType?: string;
  /** The digest it refers to. */
  subject: string;
  /** How it was found: the OCI 1.1 referrers API, the referrers tag schema (`sha256-<hex>`), or a cosign tag. */
  found: 'referrers-api' | 'referrers-tag' | 'tag';
  /** The cosign tag it was found under (`sha256-<hex>.sig`, `.att`, `.sbom`), set again on load. */
  tag?: string;
  /** Sum of its distinct blobs, manifests included. */
  size: number;
}

export interface LockedCharm {
  name: string | undefined;
  file: string;
  source: string;
  sha256: string;
  size: number;
  /** A stock bundle's charm, downloaded from Charmhub: the bundle applications deploying it. */
  applications?: string[];
  /** Its Charmhub name, channel, revision and base, as `juju download` was asked. */
  charm?: string;
  channel?: string;
  revision?: number;
  base?: string;
}

/** An airgap executable packed into charms.tar.gz by `collect --include-tool`. */
export interface LockedTool {
  /** Its file name in charms.tar.gz, e.g. airgap-linux-x64. */
  file: string;
  /** The machine it runs on, as os/arch: linux/amd64, linux/arm64. */
  platform: string;
  sha256: string;
  size: number;
}

export interface LockedArchive {
  sha256: string;
  size: number;
  layout?: 'oci+docker' | 'per-image';
}

export interface Lock {
  lockVersion: typeof LOCK_VERSION;
  tool: string;
  name: string;
  version: string;
  placeholder: string | undefined;
  platforms: string[];
  images: LockedImage[];
  charms: LockedCharm[];
  /** Present when the collect packed the tool itself (--include-tool). */
  tools?: LockedTool[];
  archives: Record<string, LockedArchive>;
}

export async function writeLock(path: string, lock: Lock): Promise<void> {
  await new AtomicFile(path).writeText(`${JSON.stringify(lock, null, 2)}\n`);
}

export async function readLock(path: string): Promise<Lock> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err: unknown) {
    throw new AirgapError(`cannot read ${path}`, { cause: err, hint: 'run `airgap collect` first, or give the directory holding airgap-lock.json' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err: unknown) {
    throw new AirgapError(`${path} is not valid JSON: the lock file is damaged`, { cause: err, hint: 're-copy it from the collect side' });
  }
  const lock = parsed as Partial<Lock>;
  if (lock.lockVersion !== LOCK_VERSION || !Array.isArray(lock.images) || !Array.isArray(lock.charms)) {
    throw new AirgapError(`${path} is not an airgap lock file of version ${LOCK_VERSION}`);
  }
  return parsed as Lock;
}
