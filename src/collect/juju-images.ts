/**
 * The images Juju itself runs, added to a collect of a release with a Juju part: jujud-operator and juju-db
 * of the Juju version (`--juju-version`, else what `juju version` says on the online side), and charm-base
 * for every base the carried sidecar charms' manifest.yaml names. Each is planned like a release image
 * (mirrors, lock, --list) and carries why it was added. Forgetting charm-base is a known ImagePullBackOff of
 * air-gapped Juju; not knowing the version is said in a warning naming the flag, never skipped in silence.
 */
import { readCharmRuntime } from '../charm/bases.ts';
import { charmBaseTag, JUJU_NAMESPACE, jujuDbTag, jujuImages, parseJujuVersion, type CharmBases, type JujuVersion } from '../config/juju-images.ts';
import { Juju, JujuNotFoundError } from '../deploy/juju.ts';
import { AirgapError, messageOf } from '../errors.ts';
import type { PlannedImage, Release } from '../release/index.ts';

export interface JujuImageOptions {
  /** `--juju-version X.Y.Z`: the Juju of the offline controller; default: `juju version` here. */
  jujuVersion?: string;
  /** false (`--no-juju-images`): carry none; the private registry has them already. */
  jujuImages?: boolean;
  /** The juju executable asked for its version (default `juju` on PATH). */
  jujuPath?: string;
  signal?: AbortSignal;
}

/** A charm file that goes into charms.tar.gz. */
export interface CarriedCharm {
  /** How messages name it: its file name in charms.tar.gz. */
  name: string;
  path: string;
}

export interface PlannedJujuImages {
  /** The version the images are for; undefined when none are added. */
  version: JujuVersion | undefined;
  images: PlannedImage[];
  warnings: string[];
}

/** A `juju version` that does not answer in this time is not going to. */
const VERSION_TIMEOUT_MS = 30_000;

const CHARM_BASE_EXAMPLE = `docker.io/${JUJU_NAMESPACE}/charm-base:ubuntu-22.04`;

const NONE: PlannedJujuImages = { version: undefined, images: [], warnings: [] };

/** A bundle or charms to deploy: the release runs on a Juju controller. */
export function hasJujuPart(release: Release): boolean {
  return release.bundleFile !== undefined || release.charms.length > 0;
}

/** `--juju-version` checked before anything is downloaded or pulled: a typo is a usage error at once. */
export function checkJujuVersionFlag(text: string | undefined): void {
  if (text !== undefined) jujuDbTag(parseJujuVersion(text));
}

function withoutFlag(what: string): string {
  return `${what}: Juju's own images (jujud-operator, juju-db, charm-base) are not carried; give --juju-version X.Y.Z (the version of the offline controller) to carry them, or --no-juju-images if its registry has them already`;
}

/** The version of the juju on this side, or a warning saying why there is none. */
async function onlineJujuVersion(options: JujuImageOptions): Promise<{ version: JujuVersion } | { warning: string }> {
  const timeout = AbortSignal.timeout(VERSION_TIMEOUT_MS);
  const juju = new Juju({ ...(options.jujuPath === undefined ? {} : { jujuPath: options.jujuPath }), signal: options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]) });
  let printed: string;
  try {
    printed = await juju.version();
  } catch (err: unknown) {
    options.signal?.throwIfAborted();
    // --juju named one: that it cannot be run is a mistake to fix, not a machine without Juju.
    if (err instanceof JujuNotFoundError && options.jujuPath !== undefined) {
      throw new AirgapError(`--juju ${options.jujuPath}: ${err.message}`, { cause: err, hint: 'give the path of the juju executable, or --juju-version X.Y.Z instead' });
    }
    if (err instanceof JujuNotFoundError) return { warning: withoutFlag(err.message) };
    const why = timeout.aborted ? `gave no answer within ${VERSION_TIMEOUT_MS / 1000} s` : `failed: ${messageOf(err)}`;
    return { warning: withoutFlag(`${juju.executable} version ${why}`) };
  }
  let version: JujuVersion;
  try {
    version = parseJujuVersion(printed);
    jujuDbTag(version);
  } catch (err: unknown) {
    // Not a usage error: no flag was wrong, the juju found here is one airgap does not know.
    throw new AirgapError(`${juju.executable} version says ${JSON.stringify(printed)}: ${messageOf(err)}`, {
      cause: err,
      hint: 'give --juju-version X.Y.Z (the version of the offline controller), or --no-juju-images and list Juju\'s images under images: in airgap.yaml',
    });
  }
  return { version };
}

/** Every carried charm's bases, with a warning for each charm whose base cannot be known. */
async function charmBases(charms: readonly CarriedCharm[]): Promise<{ bases: CharmBases[]; warnings: string[] }> {
  const bases: CharmBases[] = [];
  const warnings: string[] = [];
  for (const charm of charms) {
    const runtime = await readCharmRuntime(charm.path, charm.name);
    if (runtime.kind === 'sidecar') bases.push({ charm: charm.name, bases: runtime.bases });
    if (runtime.kind === 'unknown') {
      warnings.push(`${charm.name} has no manifest.yaml, so the base it runs on is not known and no charm-base image is carried for it; if it is a sidecar charm, list its image (e.g. ${CHARM_BASE_EXAMPLE}) under images: in airgap.yaml`);
    }
  }
  return { bases, warnings };
}

/**
 * The Juju images to add to a release's images, each a planned image with its reason. Nothing for a release
 * with no Juju part, or with `jujuImages: false`.
 */
export async function planJujuImages(release: Release, charms: readonly CarriedCharm[], options: JujuImageOptions): Promise<PlannedJujuImages> {
  if (options.jujuImages === false) return NONE;
  if (!hasJujuPart(release)) {
    if (options.jujuVersion === undefined) return NONE;
    return { ...NONE, warnings: [`--juju-version ${options.jujuVersion}: the release has no Juju part (no bundle, no charms), so no Juju image is added`] };
  }
  let version: JujuVersion;
  if (options.jujuVersion !== undefined) {
    version = parseJujuVersion(options.jujuVersion);
  } else {
    const online = await onlineJujuVersion(options);
    if ('warning' in online) return { ...NONE, warnings: [online.warning] };
    version = online.version;
  }
  const { bases, warnings } = await charmBases(charms);
  const images = jujuImages(version, bases).map((image): PlannedImage => ({
    written: image.reference, upstream: image.reference, path: image.path, mentions: [], reason: image.why,
  }));
  return { version, images, warnings };
}

/**
 * The release's images with the Juju images added: one the release names itself at the same path keeps its
 * own reference and mentions, and gains the reason.
 */
export function mergeJujuImages(planned: readonly PlannedImage[], juju: readonly PlannedImage[]): PlannedImage[] {
  const merged = planned.map((p) => ({ ...p }));
  for (const image of juju) {
    const same = merged.find((p) => p.path === image.path);
    if (same === undefined) merged.push(image);
    else if (image.reason !== undefined) same.reason = image.reason;
  }
  return merged;
}

/**
 * Charms only known once collect has them (downloaded from a URL): a base none of the planned charm-base
 * images covers is said, with the image to list, since the images are already pulled by then.
 */
export async function uncoveredCharmBases(version: JujuVersion | undefined, charms: readonly CarriedCharm[], planned: readonly PlannedImage[]): Promise<string[]> {
  if (version === undefined || charms.length === 0) return [];
  const paths = new Set(planned.map((p) => p.path));
  const { bases, warnings } = await charmBases(charms);
  for (const charm of bases) {
    for (const base of charm.bases) {
      const path = `${JUJU_NAMESPACE}/charm-base:${charmBaseTag(base)}`;
      if (paths.has(path)) continue;
      paths.add(path);
      warnings.push(`${charm.charm} runs on ${base.name} ${base.channel}, which no charm known before the pull runs on: docker.io/${path} is not carried; list it under images: in airgap.yaml and collect again`);
    }
  }
  return warnings;
}
