/**
 * Referrers on the offline side (`collect --with-referrers`). Held to the lock as images are: each one in the
 * archive is recorded against its image with its digest, and each one the lock records is in the archive. And
 * kept findable where clients look: on a registry without the OCI 1.1 referrers API (it answers a push with no
 * OCI-Subject), the subject's referrers tag (`sha256-<hex>`, an index) lists every referrer pushed with a
 * subject, as an OCI 1.1 client pushing there writes it; cosign's own tags are pushed as tags by the copy.
 */
import { ArchiveError, NotFoundError } from '../errors.ts';
import { LOCK_FILE_NAME, type Lock } from '../lock.ts';
import { parseManifest, type Descriptor } from '../oci/descriptor.ts';
import { sha256Digest } from '../oci/digest.ts';
import { OCI_INDEX } from '../oci/media-types.ts';
import { referrersTag } from '../oci/referrers.ts';
import { pathRepository } from '../reference.ts';
import { manifestOf, referrerDescriptor } from '../serve/manifest.ts';
import type { ManifestDocument, RegistryHost } from '../store/registry/client.ts';
import type { ArchiveImage } from './archive-contents.ts';
import { SAME_COLLECT } from './preamble.ts';

/** Every referrer the archive names is one the lock records against its image, with that digest and tag. */
export function checkReferrersLocked(lock: Lock | undefined, archive: string, referrers: readonly ArchiveImage[]): void {
  if (lock === undefined) return;
  for (const { referrer, digest } of referrers) {
    if (referrer === undefined) continue;
    const image = lock.images.find((i) => i.path === referrer.of);
    const locked = image?.referrers?.find((r) => r.digest === digest);
    if (locked === undefined || locked.tag !== referrer.tag) {
      throw new ArchiveError(`${archive} holds referrer ${digest}${referrer.tag === undefined ? '' : ` (tag ${referrer.tag})`} of image ${referrer.of}, which ${LOCK_FILE_NAME} does not record: nothing was pushed or tagged`, { hint: SAME_COLLECT });
    }
  }
}

/** Every referrer the lock records is in the archive, in its image's repository: checked before any tag. */
export function checkLockedReferrersPresent(lock: Lock | undefined, archive: string, found: Iterable<ArchiveImage>): void {
  if (lock === undefined) return;
  const carried = new Set<string>();
  for (const item of found) if (item.referrer !== undefined) carried.add(`${pathRepository(item.referrer.of)}@${item.digest}`);
  const missing = lock.images.flatMap((image) => (image.referrers ?? [])
    .filter((r) => !carried.has(`${pathRepository(image.path)}@${r.digest}`))
    .map((r) => `${r.digest} of ${image.path}`));
  if (missing.length > 0) {
    throw new ArchiveError(`${archive} lacks ${missing.length} referrer(s) ${LOCK_FILE_NAME} records: ${missing.join(', ')}; nothing was tagged`, { hint: SAME_COLLECT });
  }
}

/**
 * After `doc` (a referrer) is in `repository`: when it has a subject and the registry keeps no referrers of its
 * own (`indexed` false: no OCI-Subject came back; undefined: not pushed now, so the registry is asked), add it to
 * the subject's referrers tag index, read again first so that entries of others are kept.
 */
export async function listInReferrersTag(host: RegistryHost, repository: string, doc: ManifestDocument, indexed: boolean | undefined, what: string): Promise<void> {
  const manifest = manifestOf(doc.digest, doc.mediaType, doc.bytes);
  const subject = manifest.subject?.digest;
  if (subject === undefined || indexed === true) return;
  if (indexed === undefined && (await host.listReferrers(repository, subject, what)) !== undefined) return;
  const tag = referrersTag(subject);
  let entries: Descriptor[] = [];
  try {
    const current = await host.getManifest(repository, tag, what);
    const parsed = parseManifest(current.bytes, current.mediaType, `${what}: referrers tag ${tag}`);
    if (parsed.kind !== 'index') throw new ArchiveError(`${what}: ${host.host}/${repository}:${tag} should be the referrers index of ${subject}, and is an image manifest`, { hint: `delete that tag in ${host.host}, then re-run` });
    entries = parsed.index.manifests;
  } catch (err: unknown) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  if (entries.some((e) => e.digest === doc.digest)) return;
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...entries, referrerDescriptor(manifest)] }));
  await host.putManifest(repository, tag, { digest: sha256Digest(bytes), mediaType: OCI_INDEX, bytes }, what);
}
