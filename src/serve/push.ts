/**
 * The push side (with --writable): blob uploads (monolithic, chunked, cross-repository mount, sha256 or
 * sha512) and manifest PUTs (by tag, by digest, by digest with `?tag=` parameters). A blob reaches its digest's
 * name only when what arrived hashes to the digest the client claims; a manifest is accepted only when every
 * blob and child manifest it names is here (its `subject` need not be), and is kept byte for byte.
 */
import { messageOf } from '../errors.ts';
import { ApiError, digestInvalid, uploadUnknown } from './api-error.ts';
import type { BlobStore } from './blob-store.ts';
import type { Exchange, ServeContext } from './context.ts';
import { isClientGone } from './boundary.ts';
import { algorithmOf, digestOf, isDigestAlgorithm, isSupportedDigest, looksLikeDigest, type DigestAlgorithm } from './digest.ts';
import { detachedBody, header, readBody, send } from './http.ts';
import { manifestOf, type StoredManifest } from './manifest.ts';
import { isValidName, isValidTag } from './names.ts';
import { parseContentRange } from './range.ts';
import type { UploadSession, UploadSessions } from './uploads.ts';

// distribution's limit: a manifest is a small JSON document.
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

interface Writable {
  store: BlobStore;
  uploads: UploadSessions;
}

/** The router offers these handlers only with --writable, which always has a store and its uploads. */
function writable(ctx: ServeContext): Writable {
  if (ctx.store === undefined || ctx.uploads === undefined) throw new Error('a push reached a registry that has no store');
  return { store: ctx.store, uploads: ctx.uploads };
}

function uploadHeaders(x: Exchange, session: UploadSession): Record<string, string> {
  return {
    Location: `${x.baseUrl}/v2/${session.name}/blobs/uploads/${session.uuid}`,
    // distribution's convention, which docker and skopeo expect: "0-0" also for nothing received yet.
    Range: `0-${Math.max(0, session.size - 1)}`,
    'Docker-Upload-UUID': session.uuid,
  };
}

function blobCreated(x: Exchange, name: string, digest: string): void {
  send(x.res, 201, { Location: `${x.baseUrl}/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

const UNSUPPORTED_DIGEST = 'only sha256 (64 lowercase hex digits) and sha512 (128) digests are stored';

/** The digest a client names with ?digest=. */
function claimedDigest(x: Exchange): string {
  const digest = x.url.searchParams.get('digest');
  if (digest === null || digest === '') throw digestInvalid({}, 'the digest parameter is missing');
  if (!isSupportedDigest(digest)) throw digestInvalid({ digest }, `${digest}: ${UNSUPPORTED_DIGEST}`);
  return digest;
}

/** POST ?digest-algorithm=: what the upload's running hash uses (sha256 when not said). */
function announcedAlgorithm(x: Exchange): DigestAlgorithm {
  const claimed = x.url.searchParams.get('digest');
  if (claimed !== null && isSupportedDigest(claimed)) return algorithmOf(claimed);
  const announced = x.url.searchParams.get('digest-algorithm');
  if (announced === null) return 'sha256';
  if (!isDigestAlgorithm(announced)) throw digestInvalid({ algorithm: announced }, `digest-algorithm ${announced}: ${UNSUPPORTED_DIGEST}`);
  return announced;
}

/** Check the body against the claimed digest and commit it, or refuse it and keep nothing. */
async function finishUpload(ctx: ServeContext, w: Writable, x: Exchange, session: UploadSession, digest: string): Promise<void> {
  const actual = await w.uploads.digest(session, algorithmOf(digest));
  if (actual !== digest) {
    await w.uploads.finish(session);
    throw digestInvalid({ expected: digest, actual, size: session.size }, `the ${session.size} bytes uploaded hash to ${actual}, not ${digest}: nothing was stored`);
  }
  try {
    await w.store.commit(session.tempPath, digest);
  } catch (err: unknown) {
    await w.uploads.finish(session);
    throw err;
  }
  ctx.content.addBlob(digest, { path: w.store.blobPath(digest), size: session.size });
  ctx.content.linkBlob(session.name, digest);
  await w.uploads.finish(session);
  blobCreated(x, session.name, digest);
}

/** A chunk's Content-Range must continue the upload exactly where it stands. */
function checkContentRange(x: Exchange, session: UploadSession): void {
  const range = parseContentRange(header(x.req, 'content-range'));
  if (range === undefined) return;
  const fail = (why: string): ApiError => new ApiError(416, 'BLOB_UPLOAD_INVALID', { size: session.size }, { message: why, headers: uploadHeaders(x, session) });
  if (range === 'invalid') throw fail(`Content-Range ${header(x.req, 'content-range') ?? ''} is not START-END`);
  if (range.start !== session.size) throw fail(`the chunk starts at byte ${range.start}, the upload holds ${session.size}`);
  const length = Number(header(x.req, 'content-length') ?? Number.NaN);
  if (Number.isFinite(length) && length !== range.end - range.start + 1) throw fail(`Content-Range ${range.start}-${range.end} does not match Content-Length ${length}`);
}

/**
 * Write the request's body into the upload. When that fails the upload ends and its file goes, except for a
 * chunk (`resumable`) the client broke off: that upload stays, and GET on it says how far it got.
 */
async function appendBody(w: Writable, x: Exchange, session: UploadSession, resumable: boolean): Promise<void> {
  if (session.busy) throw new ApiError(416, 'BLOB_UPLOAD_INVALID', { size: session.size }, { message: 'another request is writing this upload', headers: uploadHeaders(x, session) });
  try {
    x.received += await w.uploads.append(session, detachedBody(x.req));
  } catch (err: unknown) {
    if (!resumable || !isClientGone(err, x.req)) await w.uploads.finish(session);
    throw err;
  }
}

/**
 * A mount's blob, when it can be mounted: from `from` when that repository has it, or (no `from`, as the spec
 * lets a registry) from anywhere in the registry. Anything else falls back to an upload, as the spec says.
 */
async function mountable(ctx: ServeContext, x: Exchange): Promise<string | undefined> {
  const mount = x.url.searchParams.get('mount');
  if (mount === null || !isSupportedDigest(mount)) return undefined;
  const from = x.url.searchParams.get('from');
  if (from !== null && (!isValidName(from) || !ctx.content.hasBlob(from, mount))) return undefined;
  if (from === null && !ctx.content.isBlobInUse(mount)) return undefined;
  return ctx.content.manifests.has(mount) || (await ctx.content.locateBlob(mount)) !== undefined ? mount : undefined;
}

/** POST /v2/<name>/blobs/uploads/: a mount, a monolithic upload (?digest=), or a new session. */
export async function startUpload(ctx: ServeContext, x: Exchange, name: string): Promise<void> {
  const w = writable(ctx);
  const mounted = await mountable(ctx, x);
  if (mounted !== undefined) {
    ctx.content.linkBlob(name, mounted);
    blobCreated(x, name, mounted);
    return;
  }
  const session = w.uploads.start(name, announcedAlgorithm(x));
  if (x.url.searchParams.has('digest')) {
    let digest: string;
    try {
      digest = claimedDigest(x);
    } catch (err: unknown) {
      await w.uploads.finish(session);
      throw err;
    }
    await appendBody(w, x, session, false);
    await finishUpload(ctx, w, x, session, digest);
    return;
  }
  // Whatever a client sent with a plain POST is not part of the blob.
  x.req.resume();
  send(x.res, 202, uploadHeaders(x, session));
}

function sessionOf(ctx: ServeContext, name: string, uuid: string): { w: Writable; session: UploadSession } {
  const w = writable(ctx);
  const session = w.uploads.get(uuid, name);
  if (session === undefined) throw uploadUnknown(uuid);
  return { w, session };
}

export async function patchUpload(ctx: ServeContext, x: Exchange, name: string, uuid: string): Promise<void> {
  const { w, session } = sessionOf(ctx, name, uuid);
  checkContentRange(x, session);
  await appendBody(w, x, session, true);
  send(x.res, 202, uploadHeaders(x, session));
}

export async function putUpload(ctx: ServeContext, x: Exchange, name: string, uuid: string): Promise<void> {
  const { w, session } = sessionOf(ctx, name, uuid);
  const digest = claimedDigest(x);
  checkContentRange(x, session);
  await appendBody(w, x, session, false);
  await finishUpload(ctx, w, x, session, digest);
}

export function uploadStatus(ctx: ServeContext, x: Exchange, name: string, uuid: string): void {
  const { session } = sessionOf(ctx, name, uuid);
  send(x.res, 204, uploadHeaders(x, session));
}

export async function cancelUpload(ctx: ServeContext, x: Exchange, name: string, uuid: string): Promise<void> {
  const { w, session } = sessionOf(ctx, name, uuid);
  await w.uploads.finish(session);
  send(x.res, 204, {});
}

/** Parse a pushed manifest; its Content-Type, when it names a manifest type, must agree with its own mediaType. */
function pushedManifest(x: Exchange, digest: string, bytes: Buffer): StoredManifest {
  const contentType = header(x.req, 'content-type')?.split(';')[0]?.trim();
  let manifest: StoredManifest;
  try {
    manifest = manifestOf(digest, contentType, bytes);
  } catch (err: unknown) {
    throw new ApiError(400, 'MANIFEST_INVALID', { reason: messageOf(err) }, { message: `manifest invalid: ${messageOf(err)}` });
  }
  const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
  if (typeof declared === 'string' && contentType !== undefined && contentType !== declared && contentType.startsWith('application/vnd.')) {
    throw new ApiError(400, 'MANIFEST_INVALID', { mediaType: declared, contentType }, { message: `the manifest says it is ${declared}, Content-Type says ${contentType}` });
  }
  return manifest;
}

/** `?tag=` parameters of a push by digest: every one must be a valid tag. */
function tagParameters(x: Exchange): string[] {
  const tags = [...new Set(x.url.searchParams.getAll('tag'))];
  for (const tag of tags) if (!isValidTag(tag)) throw new ApiError(400, 'MANIFEST_INVALID', { tag }, { message: `invalid tag ${tag}` });
  return tags;
}

/** Every blob and child a manifest names must be here, with the size it says. */
async function checkReferences(ctx: ServeContext, manifest: StoredManifest): Promise<void> {
  for (const child of manifest.children ?? []) {
    const known = ctx.content.manifests.get(child.digest);
    if (known === undefined) throw new ApiError(400, 'MANIFEST_BLOB_UNKNOWN', { digest: child.digest }, { message: `manifest ${child.digest} is unknown to the registry: push it first` });
    if (known.bytes.length !== child.size) throw new ApiError(400, 'MANIFEST_INVALID', { digest: child.digest }, { message: `manifest ${child.digest} has ${known.bytes.length} bytes, the index says ${child.size}` });
  }
  for (const blob of manifest.blobs) {
    if (blob.urls !== undefined && blob.urls.length > 0) continue;
    const location = await ctx.content.locateBlob(blob.digest);
    if (location === undefined) throw new ApiError(400, 'MANIFEST_BLOB_UNKNOWN', { digest: blob.digest }, { message: `blob ${blob.digest} is unknown to the registry: push it first` });
    if (location.size !== blob.size) throw new ApiError(400, 'MANIFEST_INVALID', { digest: blob.digest }, { message: `blob ${blob.digest} has ${location.size} bytes, the manifest says ${blob.size}` });
  }
}

/**
 * PUT /v2/<name>/manifests/<reference>: kept byte for byte under its digest (by the algorithm of the digest it was
 * pushed by; sha256 by tag), and tagged by the tag in the path or the `?tag=` parameters. A manifest with a
 * `subject` is answered with `OCI-Subject`: the registry lists it among that digest's referrers.
 */
export async function putManifest(ctx: ServeContext, x: Exchange, name: string, reference: string): Promise<void> {
  const w = writable(ctx);
  const byDigest = looksLikeDigest(reference);
  if (byDigest && !isSupportedDigest(reference)) throw digestInvalid({ digest: reference }, `${reference}: ${UNSUPPORTED_DIGEST}`);
  if (!byDigest && !isValidTag(reference)) throw new ApiError(400, 'MANIFEST_INVALID', { tag: reference }, { message: `invalid tag ${reference}` });
  const tags = byDigest ? tagParameters(x) : [reference];
  const bytes = await readBody(x.req, MAX_MANIFEST_BYTES);
  x.received = bytes.length;
  const algorithm = byDigest ? algorithmOf(reference) : 'sha256';
  const digest = digestOf(bytes, algorithm);
  if (byDigest && digest !== reference) throw digestInvalid({ expected: reference, actual: digest }, `the manifest hashes to ${digest}, not ${reference}`);
  const manifest = pushedManifest(x, digest, bytes);
  await checkReferences(ctx, manifest);
  await w.store.writeBytes(bytes, algorithm);
  const stored = ctx.content.addManifest(manifest);
  ctx.content.link(name, digest);
  for (const tag of tags) ctx.content.tag(name, tag, digest);
  const descriptor = { mediaType: stored.mediaType, digest, size: bytes.length };
  if (tags.length === 0) ctx.content.recordInStore(name, undefined, descriptor);
  for (const tag of tags) ctx.content.recordInStore(name, tag, descriptor);
  await ctx.content.persist();
  ctx.emit({ type: 'pushed', repository: name, reference: byDigest ? digest : reference, digest, mediaType: stored.mediaType });
  send(x.res, 201, {
    Location: `${x.baseUrl}/v2/${name}/manifests/${digest}`,
    'Docker-Content-Digest': digest,
    ...(stored.subject === undefined ? {} : { 'OCI-Subject': stored.subject.digest }),
    ...(byDigest && tags.length > 0 ? { 'OCI-Tag': tags.join(', ') } : {}),
  });
}
