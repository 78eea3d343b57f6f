/**
 * The images Juju itself runs on Kubernetes, which an air gap must carry besides the release's own:
 * the controller (jujud-operator, at the Juju version), its database (juju-db, at the MongoDB version of
 * that Juju), and one charm-base per base the sidecar charms run on (every charm pod's `charm`
 * container). Juju names them in cloudconfig/podcfg/image.go; each comes with why it was added.
 * Pure: versions and bases in, references out.
 */
import { AirgapError, UsageError } from '../errors.ts';
import { parseSmallYaml, plainValue } from '../yaml/documents.ts';

export const JUJU_NAMESPACE = 'jujusolutions';

export interface JujuVersion {
  major: number;
  minor: number;
  /** How Juju tags its images for this version: `3.4.0`, `3.5-beta1`, `3.4.0.1`. */
  tag: string;
}

/** One base a charm runs on, as its manifest.yaml `bases` entry names it. */
export interface CharmBase {
  name: string;
  /** `22.04`, `22.04/stable`, `24.04/edge`. */
  channel: string;
}

export interface CharmBases {
  /** The charm, for the reason given (`minio`, `argo-controller_r1.charm`); empty when not known. */
  charm: string;
  bases: readonly CharmBase[];
}

export interface JujuImage {
  /** The image where Juju publishes it: docker.io/jujusolutions/NAME:TAG. */
  reference: string;
  /** Its path, the same in the private registry: jujusolutions/NAME:TAG. */
  path: string;
  why: string;
}

// `juju version` prints 3.4.0-genericlinux-amd64; a release is X.Y.Z, a pre-release X.Y-betaN, either with .BUILD.
const VERSION = /^(\d+)\.(\d+)(?:\.(\d+)|-([a-z]+)(\d+))(?:\.(\d+))?(?:-[a-z][a-z0-9]*-[a-z0-9]+)?$/;

export function parseJujuVersion(text: string): JujuVersion {
  const match = VERSION.exec(text.trim());
  if (match === null) throw new UsageError(`Juju version "${text}" is not X.Y.Z`, { hint: 'give it as juju version prints it, e.g. 3.4.0 or 3.4.0-genericlinux-amd64' });
  const [, major = '', minor = '', patch, tag, tagNumber, build] = match;
  const base = patch !== undefined ? `${major}.${minor}.${patch}` : `${major}.${minor}-${tag ?? ''}${tagNumber ?? ''}`;
  // Juju's version.Number.String() leaves a zero build out.
  return { major: Number(major), minor: Number(minor), tag: build === undefined || build === '0' ? base : `${base}.${build}` };
}

/** juju-db's tag: MongoDB 4.0 for Juju 2.9, 4.4 for Juju 3 (podcfg JujudbVersion). */
export function jujuDbTag(version: JujuVersion): string {
  if (version.major === 2 && version.minor === 9) return '4.0';
  if (version.major === 3) return '4.4';
  throw new UsageError(`airgap knows the Kubernetes images of Juju 2.9 and 3.x, not of ${version.tag}`, { hint: 'carry the controller images of that Juju by listing them under images: in airgap.yaml' });
}

/** charm-base's tag for a base, as Juju's ImageForBase makes it: NAME-TRACK, and -RISK unless stable. */
export function charmBaseTag(base: CharmBase): string {
  const name = base.name.trim();
  const [track = '', risk = 'stable', ...rest] = base.channel.trim().split('/');
  if (name === '' || !/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new AirgapError(`charm base name "${base.name}" is not an OS name such as ubuntu`);
  if (!/^[0-9][0-9.]*$/.test(track) || !/^(stable|candidate|beta|edge)$/.test(risk) || rest.length > 0) {
    throw new AirgapError(`charm base channel "${base.channel}" of ${name} is not TRACK[/RISK] such as 22.04 or 22.04/stable`);
  }
  return risk === 'stable' ? `${name}-${track}` : `${name}-${track}-${risk}`;
}

/** `ubuntu@22.04` (the --base syntax of juju deploy) as a base. */
export function parseBaseOption(text: string): CharmBase {
  const [name, channel, extra] = text.split('@');
  if (name === undefined || channel === undefined || extra !== undefined || name === '' || channel === '') {
    throw new UsageError(`--base ${text}: expected NAME@CHANNEL, e.g. ubuntu@22.04`);
  }
  return { name, channel };
}

/** The `bases` of a packed charm's manifest.yaml. */
export function charmManifestBases(manifestYaml: string, file: string): CharmBase[] {
  // From a charm file, that is from outside: through the shared reader and its limits, errors at FILE!manifest.yaml:LINE.
  const doc: unknown = plainValue(parseSmallYaml(`${file}!manifest.yaml`, manifestYaml)[0]);
  const bases = typeof doc === 'object' && doc !== null ? (doc as { bases?: unknown }).bases : undefined;
  if (!Array.isArray(bases)) throw new AirgapError(`${file}: manifest.yaml has no bases: list`, { hint: 'a charm packed by charmcraft names the bases it runs on in manifest.yaml' });
  return bases.map((b: unknown, i) => {
    const entry = typeof b === 'object' && b !== null ? (b as { name?: unknown; channel?: unknown }) : {};
    if (typeof entry.name !== 'string' || (typeof entry.channel !== 'string' && typeof entry.channel !== 'number')) {
      throw new AirgapError(`${file}: manifest.yaml bases[${i}] has no name and channel`);
    }
    return { name: entry.name, channel: String(entry.channel) };
  });
}

function image(name: string, tag: string, why: string): JujuImage {
  const path = `${JUJU_NAMESPACE}/${name}:${tag}`;
  return { reference: `docker.io/${path}`, path, why };
}

function listCharms(charms: readonly string[]): string {
  const shown = charms.slice(0, 3).join(', ');
  return charms.length > 3 ? `${shown} and ${charms.length - 3} more` : shown;
}

/** The Juju images to carry for this Juju version and these charms, each with why. */
export function jujuImages(version: string | JujuVersion, charms: readonly CharmBases[]): JujuImage[] {
  const v = typeof version === 'string' ? parseJujuVersion(version) : version;
  const images = [
    image('jujud-operator', v.tag, `the Juju ${v.tag} controller, and the init container of every charm's pod`),
    image('juju-db', jujuDbTag(v), `the controller's database (MongoDB ${jujuDbTag(v)} for Juju ${v.major}.${v.minor})`),
  ];
  const byTag = new Map<string, { base: CharmBase; charms: string[] }>();
  for (const charm of charms) {
    for (const base of charm.bases) {
      const tag = charmBaseTag(base);
      const entry = byTag.get(tag) ?? { base, charms: [] };
      if (!entry.charms.includes(charm.charm)) entry.charms.push(charm.charm);
      byTag.set(tag, entry);
    }
  }
  for (const [tag, { base, charms: users }] of [...byTag.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const named = users.filter((u) => u !== '');
    images.push(image('charm-base', tag, `the charm container of every sidecar charm on ${base.name} ${base.channel.trim().replace(/\/stable$/, '')}${named.length === 0 ? '' : `: ${listCharms(named)}`}`));
  }
  return images;
}
