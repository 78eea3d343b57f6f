/**
 * The pull side of the distribution API: manifests by tag or digest, blobs by digest (with ranges), tag lists,
 * the referrers of a digest (with artifactType filtering) and the catalog. Everything is looked up in memory; blob bytes stream from disk with a small buffer, so a
 * many-gigabyte layer costs no more memory than a small one.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { pickDefaultEntry } from '../oci/platform.ts';
import { OCI_INDEX } from '../oci/media-types.ts';
import { ApiError, blobUnknown, digestInvalid, manifestUnknown, nameUnknown } from './api-error.ts';
import type { Exchange, ServeContext } from './context.ts';
import { isSupportedDigest, looksLikeDigest } from './digest.ts';
import { API_VERSION_HEADER, acceptedTypes, header, send, sendJson } from './http.ts';
import { referrerDescriptor, type StoredManifest } from './manifest.ts';
import { isValidTag } from './names.ts';
import { parseRange } from './range.ts';

const READ_BUFFER_BYTES = 1024 * 1024;

/**
 * A reference that cannot name anything here: a malformed digest is the client's error (400); a digest of an
 * algorithm not stored, or a bad tag, is simply unknown.
 */
export function checkReference(reference: string): void {
  if (looksLikeDigest(reference)) {
    if (/^sha(256|512):/.test(reference) && !isSupportedDigest(reference)) throw digestInvalid({ digest: reference }, `invalid digest ${reference}`);
    if (!isSupportedDigest(reference)) throw manifestUnknown(reference);
    return;
  }
  if (!isValidTag(reference)) throw manifestUnknown(reference);
}

/**
 * What to send for an Accept header, loosely as distribution does: the manifest itself when the client takes
 * its type (or says nothing, or any type); an index asked for by tag by a client that takes only single manifests
 * gets its linux/amd64 entry; anything else gets the manifest anyway, and the client decides.
 */
function negotiate(ctx: ServeContext, name: string, manifest: StoredManifest, accepted: string[], byTag: boolean): StoredManifest {
  if (accepted.length === 0 || accepted.includes('*/*') || accepted.includes(manifest.mediaType)) return manifest;
  if (byTag && manifest.children !== undefined) {
    const entry = pickDefaultEntry(manifest.children.filter((c) => accepted.includes(c.mediaType)));
    const child = entry === undefined ? undefined : ctx.content.resolve(name, entry.digest);
    if (child !== undefined) return child;
  }
  return manifest;
}

export function getManifest(ctx: ServeContext, x: Exchange, name: string, reference: string, head: boolean): void {
  checkReference(reference);
  const found = ctx.content.resolve(name, reference);
  if (found === undefined) throw manifestUnknown(reference);
  const manifest = negotiate(ctx, name, found, acceptedTypes(x.req), !reference.includes(':'));
  const headers = {
    'Content-Type': manifest.mediaType,
    'Docker-Content-Digest': manifest.digest,
    ETag: `"${manifest.digest}"`,
  };
  if (head) {
    send(x.res, 200, { ...headers, 'Content-Length': manifest.bytes.length });
    return;
  }
  send(x.res, 200, headers, manifest.bytes);
  x.sent = manifest.bytes.length;
}

export async function getBlob(ctx: ServeContext, x: Exchange, name: string, digest: string, head: boolean): Promise<void> {
  checkBlobDigest(digest);
  if (!ctx.content.hasBlob(name, digest)) throw blobUnknown(digest);
  const headers = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    'Accept-Ranges': 'bytes',
    ETag: `"${digest}"`,
    // Content-addressed: a digest's bytes never change.
    'Cache-Control': 'max-age=31536000',
  };
  // Manifests are blobs too (distribution serves them here): from memory.
  const manifest = ctx.content.manifests.get(digest);
  let handle: FileHandle | undefined;
  let size: number;
  if (manifest !== undefined) {
    size = manifest.bytes.length;
  } else {
    const location = await ctx.content.locateBlob(digest);
    if (location === undefined) throw blobUnknown(digest);
    try {
      handle = await open(location.path, 'r');
      size = (await handle.stat()).size;
    } catch {
      await handle?.close();
      ctx.emit({ type: 'warning', message: `blob ${digest} of ${name} is gone from ${location.path}` });
      throw blobUnknown(digest);
    }
  }
  try {
    if (head) {
      send(x.res, 200, { ...headers, 'Content-Length': size });
      return;
    }
    const range = parseRange(header(x.req, 'range'), size);
    if (range.kind === 'unsatisfiable') {
      // RFC 9110's answer; the spec has no error code for it, and a 416 needs no body.
      send(x.res, 416, { 'Content-Range': `bytes */${size}` });
      return;
    }
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end : size - 1;
    const status = range.kind === 'partial' ? 206 : 200;
    const length = size === 0 ? 0 : end - start + 1;
    const partial: Record<string, string> = range.kind === 'partial' ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {};
    if (manifest !== undefined) {
      send(x.res, status, { ...headers, ...partial }, manifest.bytes.subarray(start, end + 1));
      x.sent = length;
      return;
    }
    x.res.writeHead(status, { ...API_VERSION_HEADER, ...headers, ...partial, 'Content-Length': length });
    if (length === 0 || handle === undefined) {
      x.res.end();
      return;
    }
    const stream = handle.createReadStream({ start, end, highWaterMark: READ_BUFFER_BYTES, autoClose: true });
    handle = undefined;
    stream.on('data', (chunk) => {
      x.sent += chunk.length;
    });
    await pipeline(stream, x.res);
  } finally {
    await handle?.close();
  }
}

/** `n` and `last` pagination, and the Link header to the next page when there is one. */
function paginate(items: readonly string[], x: Exchange, path: string): { page: string[]; link: Record<string, string> } {
  const nText = x.url.searchParams.get('n');
  const last = x.url.searchParams.get('last');
  let page = last === null ? [...items] : items.filter((i) => i > last);
  if (nText === null || nText === '') return { page, link: {} };
  if (!/^\d+$/.test(nText)) throw new ApiError(400, 'UNSUPPORTED', { n: nText }, { message: `n=${nText}: the number of results must be a whole number` });
  const n = Number(nText);
  if (page.length <= n) return { page, link: {} };
  page = page.slice(0, n);
  const lastShown = page[page.length - 1];
  if (lastShown === undefined) return { page, link: {} };
  const next = new URLSearchParams({ n: String(n), last: lastShown });
  return { page, link: { Link: `<${path}?${next.toString()}>; rel="next"` } };
}

export function listTags(ctx: ServeContext, x: Exchange, name: string): void {
  const repo = ctx.content.repository(name);
  if (repo === undefined || repo.manifests.size === 0) throw nameUnknown(name);
  const { page, link } = paginate([...repo.tags.keys()].sort(), x, `/v2/${name}/tags/list`);
  sendJson(x.res, 200, { name, tags: page }, link);
}

/** A digest in a blob URL: malformed is 400, an algorithm not stored is simply unknown. */
function checkBlobDigest(digest: string): void {
  if (isSupportedDigest(digest)) return;
  if (looksLikeDigest(digest) && !/^sha(256|512):/.test(digest)) throw blobUnknown(digest);
  throw digestInvalid({ digest }, `invalid digest ${digest}`);
}

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=T]: an image index of the manifests in `name` whose subject is
 * `digest` (an empty one when there are none: the API exists, so never a 404), filtered by artifactType when asked,
 * saying so in `OCI-Filters-Applied`.
 */
export function listReferrers(ctx: ServeContext, x: Exchange, name: string, digest: string): void {
  if (!looksLikeDigest(digest) || (/^sha(256|512):/.test(digest) && !isSupportedDigest(digest))) throw digestInvalid({ digest }, `invalid digest ${digest}`);
  const artifactType = x.url.searchParams.get('artifactType');
  let referrers = ctx.content.referrersOf(name, digest);
  if (artifactType !== null) referrers = referrers.filter((m) => m.artifactType === artifactType);
  const body = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: referrers.map(referrerDescriptor) };
  send(x.res, 200, { 'Content-Type': OCI_INDEX, ...(artifactType === null ? {} : { 'OCI-Filters-Applied': 'artifactType' }) }, JSON.stringify(body));
}

export function catalog(ctx: ServeContext, x: Exchange): void {
  const { page, link } = paginate(ctx.content.repositoryNames(), x, '/v2/_catalog');
  sendJson(x.res, 200, { repositories: page }, link);
}
