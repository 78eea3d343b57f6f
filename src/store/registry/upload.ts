import { createHash } from 'node:crypto';
import { DigestMismatchError, RegistryError, messageOf } from '../../errors.ts';
import type { Descriptor } from '../../oci/descriptor.ts';
import type { RegistryHost } from './client.ts';
import { DEFAULT_RETRY_POLICY, isRetryableNetworkError, isRetryableStatus, retryDelayMs, sleep } from './retry.ts';

/**
 * Blob and manifest uploads (OCI distribution spec, "push"). A blob goes up in chunks held in memory
 * one at a time: memory stays flat whatever the layer size, and a chunk that fails can be sent again
 * from where the registry says it stopped, without reading the source twice.
 */

// Big enough that a loopback push is not dominated by round trips, small enough to hold per upload.
export const UPLOAD_CHUNK_BYTES = 32 * 1024 * 1024;
const MAX_CHUNK_ATTEMPTS = 5;

function locationOf(headers: Record<string, string | string[] | undefined>, what: string, host: string): string {
  const value = headers['location'];
  const location = Array.isArray(value) ? value[0] : value;
  if (location === undefined) throw new RegistryError(`${what}: registry ${host} started an upload without a Location`);
  return location;
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** Try to link a blob already in `fromRepository` into `repository` without sending it. */
export async function mountBlob(host: RegistryHost, repository: string, digest: string, fromRepository: string, what: string): Promise<boolean> {
  const res = await host.send('POST', `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`, {
    repository, actions: 'pull,push', extraScopes: [`repository:${fromRepository}:pull`], what,
  });
  await res.body.dump();
  if (res.statusCode === 201) return true;
  if (res.statusCode === 202) {
    // The registry declined to mount and opened an upload instead: close it so it does not linger.
    const location = locationOf(res.headers, what, host.host);
    const cancel = await host.send('DELETE', location, { repository, actions: 'pull,push', what });
    await cancel.body.dump();
  }
  return false;
}

async function startUpload(host: RegistryHost, repository: string, what: string): Promise<string> {
  const res = await host.send('POST', `/v2/${repository}/blobs/uploads/`, { repository, actions: 'pull,push', what });
  await res.body.dump();
  if (res.statusCode !== 202) throw new RegistryError(`${what}: registry ${host.host} answered ${res.statusCode} to an upload request`, { status: res.statusCode });
  return locationOf(res.headers, what, host.host);
}

/** Where an interrupted upload stands: the registry's byte count and the URL to continue at. */
async function uploadStatus(host: RegistryHost, repository: string, location: string, what: string): Promise<{ received: number; location: string } | undefined> {
  const res = await host.send('GET', location, { repository, actions: 'pull,push', what });
  await res.body.dump();
  if (res.statusCode === 404) return undefined;
  const range = res.headers['range'];
  const match = /^(?:bytes=)?0-(\d+)$/.exec(Array.isArray(range) ? (range[0] ?? '') : (range ?? ''));
  const received = match?.[1] === undefined ? 0 : Number(match[1]) + 1;
  const next = res.headers['location'];
  return { received, location: (Array.isArray(next) ? next[0] : next) ?? location };
}

/**
 * Push one blob from a stream, verified against its descriptor before the registry commits it.
 * `onBytes` reports progress as chunks are accepted.
 */
export async function pushBlob(
  host: RegistryHost,
  repository: string,
  descriptor: Descriptor,
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  what: string,
  onBytes: (bytes: number) => void = () => {},
): Promise<void> {
  const hash = createHash('sha256');
  let location = await startUpload(host, repository, what);
  let committed = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;

  // Send `chunk` (which starts at byte `start` of the blob), resuming from the registry's own count
  // when a connection drops or the registry stumbles mid-chunk.
  const sendChunk = async (chunk: Buffer, start: number, final: boolean): Promise<void> => {
    let offset = 0;
    for (let attempt = 1; ; attempt++) {
      const part = chunk.subarray(offset);
      const method = final ? 'PUT' : 'PATCH';
      const url = final ? withDigest(location, descriptor.digest) : location;
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(part.length) };
      if (!final) headers['content-range'] = `${start + offset}-${start + chunk.length - 1}`;
      let failure: unknown;
      try {
        const res = await host.send(method, url, { repository, actions: 'pull,push', what, headers, body: part, noRetry: true });
        await res.body.dump();
        if (res.statusCode === 201 || res.statusCode === 202 || res.statusCode === 204) {
          if (!final) location = locationOf(res.headers, what, host.host);
          return;
        }
        throw new RegistryError(`${what}: registry ${host.host} answered ${res.statusCode} to an upload`, { status: res.statusCode });
      } catch (err: unknown) {
        const retryable = isRetryableNetworkError(err) || (err instanceof RegistryError && err.status !== undefined && isRetryableStatus(err.status));
        if (!retryable) throw err;
        failure = err;
      }
      await sleep(retryDelayMs(DEFAULT_RETRY_POLICY, attempt, undefined));
      if (attempt >= MAX_CHUNK_ATTEMPTS) {
        throw new RegistryError(`${what}: upload of blob ${descriptor.digest} to ${host.host} kept failing: ${messageOf(failure)}`, { cause: failure, hint: 're-run the command: blobs already pushed are skipped' });
      }
      const status = await uploadStatus(host, repository, location, what);
      if (status === undefined) {
        // The upload is gone: either the final PUT did land, or the registry dropped the session.
        if (final && (await host.hasBlob(repository, descriptor.digest, what))) return;
        throw new RegistryError(`${what}: registry ${host.host} lost the upload of blob ${descriptor.digest}`, { hint: 're-run the command: blobs already pushed are skipped' });
      }
      location = status.location;
      if (status.received < start) {
        throw new RegistryError(`${what}: registry ${host.host} lost part of blob ${descriptor.digest} already sent`, { hint: 're-run the command: blobs already pushed are skipped' });
      }
      offset = Math.min(chunk.length, status.received - start);
    }
  };

  try {
    for await (const piece of source) {
      hash.update(piece);
      pending.push(piece);
      pendingBytes += piece.length;
      if (pendingBytes >= UPLOAD_CHUNK_BYTES) {
        const chunk = Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        await sendChunk(chunk, committed, false);
        committed += chunk.length;
        onBytes(chunk.length);
      }
    }
    const last = Buffer.concat(pending, pendingBytes);
    const total = committed + last.length;
    const actual = `sha256:${hash.digest('hex')}`;
    if (total !== descriptor.size || actual !== descriptor.digest) {
      throw new DigestMismatchError(
        `${what}: blob ${descriptor.digest} has ${total} bytes with digest ${actual} (expected ${descriptor.size} bytes): the archive is corrupt`,
        descriptor.digest, actual, { hint: 'copy images.tar.gz across again and compare its sha256 with airgap-lock.json' },
      );
    }
    await sendChunk(last, committed, true);
    onBytes(last.length);
  } catch (err: unknown) {
    // Leave no half upload behind on the registry.
    try {
      const res = await host.send('DELETE', location, { repository, actions: 'pull,push', what });
      await res.body.dump();
    } catch {
      // Best effort: the registry purges abandoned uploads on its own.
    }
    throw err;
  }
}

/** PUT a manifest by digest or tag, bytes unchanged, and check the registry kept the digest. */
export async function putManifest(host: RegistryHost, repository: string, reference: string, mediaType: string, bytes: Buffer, digest: string, what: string): Promise<void> {
  const res = await host.send('PUT', `/v2/${repository}/manifests/${reference}`, {
    repository, actions: 'pull,push', what, headers: { 'content-type': mediaType, 'content-length': String(bytes.length) }, body: bytes,
  });
  await res.body.dump();
  if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 202) {
    throw new RegistryError(`${what}: registry ${host.host} answered ${res.statusCode} to the manifest upload`, { status: res.statusCode });
  }
  const kept = res.headers['docker-content-digest'];
  const keptDigest = Array.isArray(kept) ? kept[0] : kept;
  if (keptDigest !== undefined && keptDigest !== digest) {
    throw new DigestMismatchError(`${what}: registry ${host.host} stored the manifest as ${keptDigest}, not ${digest}`, digest, keptDigest, {
      hint: 'the registry rewrites manifests; airgap needs one that stores them byte for byte',
    });
  }
}
