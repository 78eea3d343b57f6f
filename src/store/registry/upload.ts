import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
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

/** Pulls pieces of at most a given size from a stream of buffers of any size. */
class PieceReader {
  readonly #iterator: AsyncIterator<Buffer> | Iterator<Buffer>;
  #leftover: Buffer | undefined;

  constructor(source: AsyncIterable<Buffer> | Iterable<Buffer>) {
    this.#iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  async next(max: number): Promise<Buffer | undefined> {
    let piece = this.#leftover;
    this.#leftover = undefined;
    while (piece === undefined || piece.length === 0) {
      const step = await this.#iterator.next();
      if (step.done === true) return undefined;
      piece = step.value;
    }
    if (piece.length > max) {
      this.#leftover = piece.subarray(max);
      return piece.subarray(0, max);
    }
    return piece;
  }
}

function isRetryable(err: unknown): boolean {
  return isRetryableNetworkError(err) || (err instanceof RegistryError && err.status !== undefined && isRetryableStatus(err.status));
}

function drained(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/**
 * Push one blob from a stream, in chunks of up to 32 MiB that stream to the registry as they are read
 * (reading the archive and sending overlap), each kept until the registry accepts it so that a chunk
 * that fails can be sent again from where the registry says it stopped. The blob is verified against
 * its descriptor before its last byte is sent: a corrupt one never gets committed. `onBytes` reports
 * progress as chunks are accepted.
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
  const reader = new PieceReader(source);
  let location = await startUpload(host, repository, what);

  const request = (chunkStart: number, length: number, final: boolean, body: Buffer | PassThrough, offset: number): Promise<void> => {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(length - offset) };
    if (!final) headers['content-range'] = `${chunkStart + offset}-${chunkStart + length - 1}`;
    const url = final ? withDigest(location, descriptor.digest) : location;
    return host.send(final ? 'PUT' : 'PATCH', url, { repository, actions: 'pull,push', what, headers, body, noRetry: true }).then(async (res) => {
      await res.body.dump();
      if (res.statusCode !== 201 && res.statusCode !== 202 && res.statusCode !== 204) {
        throw new RegistryError(`${what}: registry ${host.host} answered ${res.statusCode} to an upload`, { status: res.statusCode });
      }
      if (!final) location = locationOf(res.headers, what, host.host);
    });
  };

  // After a failure: ask the registry how far it got, and send the rest of the chunk from memory.
  const resend = async (chunk: Buffer, chunkStart: number, final: boolean, firstFailure: unknown): Promise<void> => {
    let failure = firstFailure;
    for (let attempt = 1; ; attempt++) {
      if (attempt > MAX_CHUNK_ATTEMPTS) {
        throw new RegistryError(`${what}: upload of blob ${descriptor.digest} to ${host.host} kept failing: ${messageOf(failure)}`, { cause: failure, hint: 're-run the command: blobs already pushed are skipped' });
      }
      await sleep(retryDelayMs(DEFAULT_RETRY_POLICY, attempt, undefined));
      const status = await uploadStatus(host, repository, location, what);
      if (status === undefined) {
        // The upload is gone: either the final PUT did land, or the registry dropped the session.
        if (final && (await host.hasBlob(repository, descriptor.digest, what))) return;
        throw new RegistryError(`${what}: registry ${host.host} lost the upload of blob ${descriptor.digest}`, { hint: 're-run the command: blobs already pushed are skipped' });
      }
      location = status.location;
      if (status.received < chunkStart) {
        throw new RegistryError(`${what}: registry ${host.host} lost part of blob ${descriptor.digest} already sent`, { hint: 're-run the command: blobs already pushed are skipped' });
      }
      const offset = Math.min(chunk.length, status.received - chunkStart);
      try {
        await request(chunkStart, chunk.length, final, chunk.subarray(offset), offset);
        return;
      } catch (err: unknown) {
        if (!isRetryable(err)) throw err;
        failure = err;
      }
    }
  };

  const corrupt = (message: string, actual: string): DigestMismatchError =>
    new DigestMismatchError(`${what}: blob ${descriptor.digest} ${message}: the archive is corrupt`, descriptor.digest, actual, {
      hint: 'copy images.tar.gz across again and compare its sha256 with airgap-lock.json',
    });

  try {
    let chunkStart = 0;
    do {
      const length = Math.min(UPLOAD_CHUNK_BYTES, descriptor.size - chunkStart);
      const final = chunkStart + length === descriptor.size;
      const pieces: Buffer[] = [];
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      const sending = request(chunkStart, length, final, body, 0);
      // Its outcome is read below, after the chunk is fully read; a failure must not go unhandled meanwhile.
      sending.catch(() => {});
      let read = 0;
      let problem: DigestMismatchError | undefined;
      while (read < length) {
        const piece = await reader.next(length - read);
        if (piece === undefined) {
          problem = corrupt(`ends after ${chunkStart + read} of its ${descriptor.size} bytes`, 'unknown');
          break;
        }
        hash.update(piece);
        pieces.push(piece);
        read += piece.length;
        if (!body.destroyed && !body.write(piece)) await drained(body);
      }
      if (final && problem === undefined) {
        if ((await reader.next(1)) !== undefined) problem = corrupt(`is longer than its ${descriptor.size} bytes`, 'unknown');
        const actual = `sha256:${hash.digest('hex')}`;
        if (problem === undefined && actual !== descriptor.digest) problem = corrupt(`has content digest ${actual}`, actual);
      }
      if (problem !== undefined) {
        // Cut the request short: the registry never sees a complete chunk, so it commits nothing.
        body.destroy(problem);
        await sending.catch(() => {});
        throw problem;
      }
      body.end();
      try {
        await sending;
      } catch (err: unknown) {
        if (!isRetryable(err)) throw err;
        await resend(Buffer.concat(pieces, length), chunkStart, final, err);
      }
      onBytes(length);
      chunkStart += length;
    } while (chunkStart < descriptor.size);
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
