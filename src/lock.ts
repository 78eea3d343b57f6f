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

/** One slice of an archive written with `collect --split`: `cat` of the parts in order is the archive. */
export interface LockedPart {
  /** Its file name, e.g. images.tar.gz.000. */
  file: string;
  size: number;
  sha256: string;
}

export interface LockedArchive {
  sha256: string;
  size: number;
  layout?: 'oci+docker' | 'per-image';
  /** Present when the archive was split for media: its parts in order. */
  parts?: LockedPart[];
}

/** Every blob of the release (manifests, configs, layers), once, and the images that need it. */
export interface LockedBlob {
  digest: string;
  size: number;
  /** Paths of the images that need it. */
  images: string[];
}

/** The release a differential archive (`collect --since`) builds on. */
export interface LockedBase {
  name: string;
  version: string;
  /** sha256 of the base's airgap-lock.json, as read. */
  sha256: string;
}

/** A layer a differential archive leaves out: its base release carries it. */
export interface LeftOutBlob {
  digest: string;
  size: number;
  /** Paths of the base release's images that carry it: where it is in a registry the base was loaded into. */
  baseImages: string[];
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
  /** Every blob of the release; absent in locks written before it was recorded. */
  blobs?: LockedBlob[];
  /** A differential archive: the release it builds on, and the layers it leaves out because the base has them. */
  base?: LockedBase;
  leftOut?: LeftOutBlob[];
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
