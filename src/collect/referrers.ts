/**
 * `collect --with-referrers`: the artifacts about each image pulled (signatures, SBOMs, attestations) carried
 * with it. They are asked of the registry the image came from, for its digest and the digest of each of its
 * manifests: the OCI 1.1 referrers API, or on a registry that has none (distribution 2.8) the referrers tag
 * schema (a tag `sha256-<hex>` holding an index), and cosign's tags (`sha256-<hex>.sig`, `.att`, `.sbom`).
 * Each referrer's tree is resolved as an image's is (manifests and configs now, the rest streamed into the
 * archive with the layers), and what refers to a referrer (a signature on an SBOM) is followed a few levels
 * down. Nothing is verified here: carrying them unchanged is the job; checking signatures is the verifier's.
 */
import { AirgapError, NotFoundError } from '../errors.ts';
import type { LockedReferrer } from '../lock.ts';
import { isSha256Digest, parseManifest, type Descriptor } from '../oci/descriptor.ts';
import { COSIGN_SUFFIXES, cosignTag, referrerPath, referrersTag } from '../oci/referrers.ts';
import { parseReference } from '../reference.ts';
import type { RegistryClient, RegistryHost } from '../store/registry/client.ts';
import { fulfilledOrThrow, settleConcurrently } from '../util/concurrency.ts';
import type { CollectEventListener } from './events.ts';
import { resolveImage } from './resolve-image.ts';
import type { ReferrerSource, ResolvedImage } from './resolved-image.ts';

/** A signature of an attestation of an image is two levels down; deeper chains are not followed. */
const MAX_DEPTH = 3;

export interface FoundReferrers {
  /** One tree per place (repository and tag or digest), subjects before what refers to them: what the archive holds. */
  referrers: ResolvedImage[];
  /** What the lock records against each image, by image path. */
  byImage: Map<string, LockedReferrer[]>;
  warnings: string[];
}

interface Candidate {
  descriptor: Descriptor;
  found: ReferrerSource;
  tag?: string;
}

/** The referrers API, else the referrers tag schema's index: what OCI 1.1 clients push with a `subject`. */
async function subjectReferrers(host: RegistryHost, repository: string, subject: string, what: string): Promise<Candidate[]> {
  const listed = await host.listReferrers(repository, subject, what);
  if (listed !== undefined) return listed.map((descriptor) => ({ descriptor, found: 'referrers-api' }));
  const tag = referrersTag(subject);
  let index;
  try {
    index = await host.getManifest(repository, tag, what);
  } catch (err: unknown) {
    if (err instanceof NotFoundError) return [];
    throw err;
  }
  const parsed = parseManifest(index.bytes, index.mediaType, `${what}: referrers tag ${tag}`);
  if (parsed.kind !== 'index') throw new AirgapError(`${what}: ${host.host}/${repository}:${tag} should be the referrers index of ${subject} (OCI referrers tag schema), and is an image manifest`);
  return parsed.index.manifests.map((descriptor) => ({ descriptor, found: 'referrers-tag' }));
}

/** Everything that refers to `subject`, found any of the three ways, once per digest (a cosign tag kept). */
async function discover(host: RegistryHost, repository: string, subject: string, what: string): Promise<Candidate[]> {
  const [viaSubject, ...viaTags] = await Promise.all([
    subjectReferrers(host, repository, subject, what),
    ...COSIGN_SUFFIXES.map(async (suffix): Promise<Candidate | undefined> => {
      const tag = cosignTag(subject, suffix);
      const head = await host.headManifest(repository, tag, what);
      if (head === undefined) return undefined;
      // The digest goes into the next request's path: only one that is a digest.
      if (!isSha256Digest(head.digest)) throw new AirgapError(`${what}: ${host.host}/${repository}:${tag} has digest ${JSON.stringify(head.digest)}, which is not a sha256 digest`);
      return { descriptor: { mediaType: head.mediaType, digest: head.digest, size: head.size }, found: 'tag', tag };
    }),
  ]);
  const byDigest = new Map<string, Candidate>();
  for (const candidate of [...viaTags.filter((c): c is Candidate => c !== undefined), ...viaSubject]) {
    if (!byDigest.has(candidate.descriptor.digest)) byDigest.set(candidate.descriptor.digest, candidate);
  }
  return [...byDigest.values()];
}

/** What the referrers API would list it as: its own artifactType, else its config's media type. */
function artifactTypeOf(tree: ResolvedImage, listed: Descriptor): string | undefined {
  if (listed.artifactType !== undefined) return listed.artifactType;
  try {
    const doc = JSON.parse(tree.top.bytes.toString('utf8')) as { artifactType?: unknown; config?: { mediaType?: unknown } };
    if (typeof doc.artifactType === 'string') return doc.artifactType;
    return typeof doc.config?.mediaType === 'string' ? doc.config.mediaType : undefined;
  } catch {
    return undefined;
  }
}

/** The digests an image's referrers may point at: its own and each of its manifests' (a platform's signature). */
function subjectsOf(image: ResolvedImage): string[] {
  const children = [...image.manifests.keys()].filter((d) => d !== image.top.descriptor.digest);
  // A narrowed index is ours: nothing upstream refers to it.
  return image.narrowed ? children : [image.top.descriptor.digest, ...children];
}

/**
 * The referrers of every image, `concurrency` images at a time. Each one found is resolved once per place it
 * goes; a referrer that cannot be read fails the collect, naming it and its image.
 */
export async function findReferrers(
  client: RegistryClient,
  images: readonly ResolvedImage[],
  options: { concurrency: number; signal?: AbortSignal | undefined; emit: CollectEventListener },
): Promise<FoundReferrers> {
  const paths = new Set(images.map((i) => i.path));
  const trees = new Map<string, Promise<ResolvedImage>>();
  const warnings: string[] = [];
  const settled = await settleConcurrently(images, options.concurrency, async (image) => {
    const host = client.host(image.registry);
    const what = `referrers of image ${image.written}`;
    const upstream = parseReference(image.upstream);
    const locked: LockedReferrer[] = [];
    if (image.narrowed && image.upstreamDigest !== undefined) {
      const lost = await discover(host, image.repository, image.upstreamDigest, what);
      if (lost.length > 0) {
        warnings.push(`image ${image.path}: ${lost.length} referrer(s) of its upstream index ${image.upstreamDigest} are not carried: --platform made a new index, which they are not about`);
      }
    }
    const queue = subjectsOf(image).map((digest) => ({ digest, depth: 0 }));
    const seen = new Set<string>();
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      for (const candidate of await discover(host, image.repository, next.digest, what)) {
        const { digest } = candidate.descriptor;
        if (seen.has(digest)) continue;
        seen.add(digest);
        const path = referrerPath(image.path, digest, candidate.tag);
        // Listed in the release itself (`team/app:sha256-….sig`): carried as the image it is.
        if (paths.has(path)) continue;
        let tree = trees.get(path);
        if (tree === undefined) {
          tree = resolveImage(host, {
            written: `${upstream.registry}/${upstream.repository}@${digest}`,
            upstream: `${upstream.registry}/${upstream.repository}@${digest}`,
            registry: image.registry,
            repository: image.repository,
            reference: digest,
            path,
            mentionedAt: `a referrer of ${image.path} (of ${next.digest}, found by ${candidate.found === 'tag' ? `tag ${candidate.tag ?? ''}` : candidate.found})`,
          }, []).then((resolved): ResolvedImage => {
            const artifactType = artifactTypeOf(resolved, candidate.descriptor);
            return {
              ...resolved,
              referrer: { of: image.path, subject: next.digest, found: candidate.found, ...(candidate.tag === undefined ? {} : { tag: candidate.tag }), ...(artifactType === undefined ? {} : { artifactType }) },
            };
          });
          trees.set(path, tree);
        }
        const resolved = await tree;
        const { referrer } = resolved;
        locked.push({
          digest, mediaType: resolved.top.descriptor.mediaType,
          ...(referrer?.artifactType === undefined ? {} : { artifactType: referrer.artifactType }),
          subject: next.digest, found: candidate.found, ...(candidate.tag === undefined ? {} : { tag: candidate.tag }), size: resolved.totalBytes,
        });
        if (next.depth + 1 < MAX_DEPTH) queue.push({ digest, depth: next.depth + 1 });
      }
    }
    if (locked.length > 0) options.emit({ type: 'referrers-found', path: image.path, referrers: locked.length });
    return { path: image.path, locked };
  }, options.signal);
  const found = fulfilledOrThrow(settled, 'images\' referrers could not be read', 'check the registry access, or collect without --with-referrers');
  const byImage = new Map(found.filter((f) => f.locked.length > 0).map((f) => [f.path, f.locked]));
  // Every tree was awaited above; the map keeps them in the order found, a subject before its referrers.
  return { referrers: await Promise.all(trees.values()), byImage, warnings };
}
