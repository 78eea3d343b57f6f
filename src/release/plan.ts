/**
 * Where each image is pulled from. A placeholder reference names the private registry, not a source:
 * its upstream comes from airgap.yaml's `upstream:` map. Any other reference is pulled from itself.
 */
import { ReleaseFileError } from '../errors.ts';
import { basename } from 'node:path';
import { formatReference, parseReference, withRegistry } from '../reference.ts';
import { isKnownRegistry, isLoopbackHost } from './strings.ts';
import type { ImageReference } from '../reference.ts';
import type { ImageMention, PlannedImage, Release } from './types.ts';

export function planImages(release: Release): PlannedImage[] {
  const byWritten = new Map<string, PlannedImage>();
  for (const mention of release.mentions) {
    let planned = byWritten.get(mention.reference);
    if (planned === undefined) {
      const ref = parseReference(mention.reference);
      planned = { written: mention.reference, upstream: upstreamOf(release, ref, mention), path: ref.path, mentions: [] };
      byWritten.set(mention.reference, planned);
    }
    planned.mentions.push(mention);
  }

  // Every image lands at REGISTRY/PATH: two different sources at one path would overwrite each other.
  const byPath = new Map<string, PlannedImage>();
  for (const planned of byWritten.values()) {
    const other = byPath.get(planned.path);
    if (other === undefined) {
      byPath.set(planned.path, planned);
      continue;
    }
    if (other.upstream === planned.upstream) continue;
    const first = planned.mentions[0];
    throw new ReleaseFileError(
      first?.file ?? release.file,
      `two different images would both live at ${planned.path} in the private registry: ${describe(other)} and ${describe(planned)}`,
      { line: first?.line, hint: 'keep one of them, or list the other under ignore:' },
    );
  }
  return [...byWritten.values()];
}

/**
 * A host that stands for the private registry cannot be pulled from: a reserved `.invalid` name (the placeholder
 * of generated bundles), or, in an air-gapped bundle given alone (its charms are local files, as the guide's
 * bundle-airgap.yaml), any host that is neither a public registry nor this machine (172.17.0.2:5000 is somebody
 * else's network). Said before any connection, with how to write where the images really come from.
 */
function checkNotPlaceholder(release: Release, ref: ImageReference, mention: ImageMention): void {
  const host = ref.host;
  if (host === undefined || host === release.placeholder) return;
  const reserved = /\.invalid(?::\d+)?$/.test(host);
  const airgapped = release.kind === 'bundle' && release.bundleCharms.length > 0 && release.charmhubCharms.length === 0;
  if (!reserved && !(airgapped && !isKnownRegistry(host) && !isLoopbackHost(host))) return;
  const firstSegment = ref.name.split('/')[0] ?? ref.name;
  const why = reserved ? `its host ${host} is a placeholder (a reserved name that never resolves)` : `${basename(release.file)} is an air-gapped bundle (its charms are local files), so its host ${host} stands for the private registry`;
  throw new ReleaseFileError(mention.file, `${mention.reference} (${mention.yamlPath}): ${why}; collect does not pull from a placeholder`, {
    line: mention.line,
    hint: `write an airgap.yaml beside it (\`airgap init ${basename(release.file)}\` drafts one) with placeholder: ${host}, bundle: ${basename(release.file)} and upstream: { "*": docker.io, "${firstSegment}/": REGISTRY } saying where the images really come from, then collect that airgap.yaml`,
  });
}

function upstreamOf(release: Release, ref: ImageReference, mention: ImageMention): string {
  checkNotPlaceholder(release, ref, mention);
  if (release.placeholder === undefined || ref.host !== release.placeholder) return formatReference(ref);
  let best: string | undefined;
  for (const prefix of Object.keys(release.upstream)) {
    if (prefix !== '*' && ref.name.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  const registry = release.upstream[best ?? '*'];
  if (registry === undefined) {
    const firstSegment = ref.name.split('/')[0] ?? ref.name;
    throw new ReleaseFileError(
      mention.file,
      `${mention.reference} (${mention.yamlPath}) is under the placeholder ${release.placeholder}, but no upstream: entry says where to pull ${ref.name} from`,
      { line: mention.line, hint: `add to ${release.file}: upstream: { "${firstSegment}/": REGISTRY } or a default "*": docker.io` },
    );
  }
  const upstream = parseReference(withRegistry(ref, registry));
  // The guide's procedure retags digest-pinned images (knative's) with the digest's hex as their tag, since
  // `docker push` cannot push by digest; upstream has them only by digest, so pull them by that digest.
  if (ref.digest === undefined && ref.tag !== undefined && DIGEST_HEX_TAG.test(ref.tag)) {
    return formatReference({ ...upstream, tag: undefined, digest: `sha256:${ref.tag}` });
  }
  return formatReference(upstream);
}

const DIGEST_HEX_TAG = /^[a-f0-9]{64}$/;

function describe(planned: PlannedImage): string {
  const where = planned.mentions.map((m) => `${m.file}${m.line === undefined ? '' : `:${m.line}`} ${m.yamlPath}`);
  return `${planned.written} (pulled from ${planned.upstream}; at ${where.join(', ')})`;
}
