/**
 * The push side (with --writable): blob uploads (monolithic, chunked, cross-repository mount) and manifest
 * PUTs. A blob reaches its digest's name only when what arrived hashes to the digest the client claims; a
 * manifest is accepted only when every blob and child manifest it names is here, and is kept byte for byte.
 */
import { isIndexMediaType, isManifestMediaType, OCI_INDEX, OCI_MANIFEST } from '../oci/media-types.ts';
import { sha256Digest } from '../oci/digest.ts';
import { messageOf } from '../errors.ts';
import { ApiError, digestInvalid, readOnly, uploadUnknown } from './api-error.ts';
import type { BlobStore } from './blob-store.ts';
import { manifestOf, type StoredManifest } from './content.ts';
import type { Exchange, ServeContext } from './context.ts';
import { isClientGone } from './boundary.ts';
import { detachedBody, header, readBody, send } from './http.ts';
import { isSha256Digest, isValidName, isValidTag, looksLikeDigest } from './names.ts';
import { parseContentRange } from './range.ts';
import type { UploadSession, UploadSessions } from './uploads.ts';

// distribution's limit: a manifest is a small JSON document.
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

interface Writable {
  store: BlobStore;
  uploads: UploadSessions;
}

function writable(ctx: ServeContext): Writable {
  if (!ctx.writable || ctx.store === undefined || ctx.uploads === undefined) throw readOnly();
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

/** The digest a client names with ?digest=: only sha256 is stored. */
function claimedDigest(x: Exchange): string {
  const digest = x.url.searchParams.get('digest');
  if (digest === null || digest === '') throw digestInvalid({}, 'the digest parameter is missing');
  if (!isSha256Digest(digest)) {
    if (looksLikeDigest(digest) && !digest.startsWith('sha256:')) throw new ApiError(400, 'DIGEST_INVALID', { digest }, { message: 'only sha256 digests are supported' });
    throw digestInvalid({ digest }, 'invalid digest: sha256 needs 64 lowercase hex digits');
  }
  return digest;
}

/** Check the body against the claimed digest and commit it, or refuse it and keep nothing. */
async function finishUpload(ctx: ServeContext, w: Writable, x: Exchange, session: UploadSession, digest: string): Promise<void> {
  const actual = await w.uploads.digest(session);
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
  const fail = (why: string): ApiError => new ApiError(416, 'RANGE_INVALID', { size: session.size }, { message: why, headers: uploadHeaders(x, session) });
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
  if (session.busy) throw new ApiError(416, 'RANGE_INVALID', { size: session.size }, { message: 'another request is writing this upload', headers: uploadHeaders(x, session) });
  try {
    x.received += await w.uploads.append(session, detachedBody(x.req));
  } catch (err: unknown) {
    if (!resumable || !isClientGone(err, x.req)) await w.uploads.finish(session);
    throw err;
  }
}

/** POST /v2/<name>/blobs/uploads/: a mount, a monolithic upload (?digest=), or a new session. */
export async function startUpload(ctx: ServeContext, x: Exchange, name: string): Promise<void> {
  const w = writable(ctx);
  const mount = x.url.searchParams.get('mount');
  const from = x.url.searchParams.get('from');
  if (mount !== null && isSha256Digest(mount) && from !== null && isValidName(from) && ctx.content.hasBlob(from, mount)
    && (ctx.content.manifests.has(mount) || (await ctx.content.locateBlob(mount)) !== undefined)) {
    ctx.content.linkBlob(name, mount);
    blobCreated(x, name, mount);
    return;
  }
  const session = await w.uploads.start(name);
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

/** The media type a pushed manifest is kept and served as: its own field, else the Content-Type, else its shape. */
function mediaTypeOf(bytes: Buffer, contentType: string | undefined): string {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err: unknown) {
    throw new ApiError(400, 'MANIFEST_INVALID', { reason: messageOf(err) });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ApiError(400, 'MANIFEST_INVALID', { reason: 'not a JSON object' });
  const declared = (doc as { mediaType?: unknown }).mediaType;
  const given = contentType !== undefined && (isIndexMediaType(contentType) || isManifestMediaType(contentType)) ? contentType : undefined;
  if (typeof declared === 'string') {
    if (given !== undefined && given !== declared) {
      throw new ApiError(400, 'MANIFEST_INVALID', { mediaType: declared, contentType }, { message: `the manifest says it is ${declared}, Content-Type says ${contentType}` });
    }
    return declared;
  }
  if (given !== undefined) return given;
  return Array.isArray((doc as { manifests?: unknown }).manifests) ? OCI_INDEX : OCI_MANIFEST;
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

/** PUT /v2/<name>/manifests/<reference>: kept byte for byte, under its digest and, by tag, tagged. */
export async function putManifest(ctx: ServeContext, x: Exchange, name: string, reference: string): Promise<void> {
  const w = writable(ctx);
  const byDigest = looksLikeDigest(reference);
  if (byDigest && !isSha256Digest(reference)) throw digestInvalid({ digest: reference }, 'only sha256 digests (64 lowercase hex digits) are supported');
  if (!byDigest && !isValidTag(reference)) throw new ApiError(400, 'MANIFEST_INVALID', { tag: reference }, { message: `invalid tag ${reference}` });
  const bytes = await readBody(x.req, MAX_MANIFEST_BYTES);
  x.received = bytes.length;
  const digest = sha256Digest(bytes);
  if (byDigest && digest !== reference) throw digestInvalid({ expected: reference, actual: digest }, `the manifest hashes to ${digest}, not ${reference}`);
  const mediaType = mediaTypeOf(bytes, header(x.req, 'content-type')?.split(';')[0]?.trim());
  let manifest: StoredManifest;
  try {
    manifest = manifestOf(digest, mediaType, bytes);
  } catch (err: unknown) {
    throw new ApiError(400, 'MANIFEST_INVALID', { reason: messageOf(err) });
  }
  // The served type is what the client pushed it as, even when the document carries no mediaType field.
  manifest = { ...manifest, mediaType };
  await checkReferences(ctx, manifest);
  await w.store.writeBytes(bytes);
  const stored = ctx.content.addManifest(manifest);
  const tag = byDigest ? undefined : reference;
  if (tag === undefined) ctx.content.link(name, digest);
  else ctx.content.tag(name, tag, digest);
  ctx.content.recordInStore(name, tag, { mediaType: stored.mediaType, digest, size: bytes.length });
  await ctx.content.persist();
  ctx.emit({ type: 'pushed', repository: name, reference, digest, mediaType: stored.mediaType });
  send(x.res, 201, { Location: `${x.baseUrl}/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest });
}
