/**
 * The top layer of the registry client: the registry API the commands use (hasBlob, getBlob, mountBlob,
 * putBlob, getManifest, putManifest, listTags, listReferrers, and the few more check and deploy need). Below it:
 * auth.ts (who we are), retry.ts (when to send again), transport.ts (one HTTP exchange). The raw `send`
 * stays private here: nothing outside speaks HTTP to a registry by itself.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  AirgapError,
  DigestMismatchError,
  NotFoundError,
  RegistryError,
  StorageFullError,
  messageOf,
} from '../../errors.ts';
import { MANIFEST_MEDIA_TYPES, OCI_INDEX } from '../../oci/media-types.ts';
import { parseManifest, type Descriptor } from '../../oci/descriptor.ts';
import { DigestHasher, sha256Digest } from '../../oci/digest.ts';
import { apiHost } from '../../reference.ts';
import { Authenticator, defaultSchemes } from './auth.ts';
import { lookupCredentials, type Credentials } from './credentials.ts';
import { Attempts, DEFAULT_RETRY_POLICY, RetryingTransport, isRetryableStatus, type RetryPolicy } from './retry.ts';
import type { HttpRequest as TokenRequest } from './token.ts';
import { Transport, headerValue, type HttpResponse } from './transport.ts';
import { UploadSession, type UploadOptions, type UploadSender } from './upload.ts';

export interface RegistryClientOptions {
  /** Extra CA files trusted for every registry (--ca-file). */
  caFiles?: readonly string[] | undefined;
  /** Where docker-style per-host trust lives; default /etc/docker/certs.d and /etc/containers/certs.d. */
  certsDirs?: readonly string[] | undefined;
  /** HOST or HOST:PORT spoken to over plain HTTP (--plain-http); a bare HOST matches every port. */
  plainHttp?: readonly string[] | undefined;
  /** Credentials given on the command line, by registry host; others come from ~/.docker/config.json. */
  credentials?: ReadonlyMap<string, Credentials> | undefined;
  dockerConfigPath?: string | undefined;
  retry?: RetryPolicy | undefined;
  connectionsPerHost?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** How a command reaches registries, as its flags say: shared by collect, load, deploy and check. */
export interface RegistryAccess {
  caFiles?: readonly string[] | undefined;
  certsDirs?: readonly string[] | undefined;
  plainHttp?: readonly string[] | undefined;
  dockerConfigPath?: string | undefined;
  retry?: RetryPolicy | undefined;
  signal?: AbortSignal | undefined;
}

/** A client for `access`; credentials given on the command line apply to `host` only, never elsewhere. */
export function registryClientFor(
  access: RegistryAccess,
  extra: { host?: string | undefined; credentials?: Credentials | undefined; connectionsPerHost?: number; retry?: RetryPolicy } = {},
): RegistryClient {
  return new RegistryClient({
    caFiles: access.caFiles,
    certsDirs: access.certsDirs,
    plainHttp: access.plainHttp,
    dockerConfigPath: access.dockerConfigPath,
    retry: extra.retry ?? access.retry,
    signal: access.signal,
    connectionsPerHost: extra.connectionsPerHost,
    credentials: extra.host !== undefined && extra.credentials !== undefined ? new Map([[apiHost(extra.host), extra.credentials]]) : undefined,
  });
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

/** A manifest as it is pushed: bytes unchanged, so its digest is the one recorded. */
export interface ManifestDocument {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

// Registries are allowed to refuse manifests over 4 MiB; anything larger is not a manifest.
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const NO_SPACE = /no space left on device|disk quota exceeded|not enough space|insufficient storage/i;

interface SendOptions {
  repository: string | undefined;
  actions: 'pull' | 'pull,push' | 'delete';
  /** Extra scopes, e.g. pull on the source repository of a cross-repository mount. */
  extraScopes?: string[];
  headers?: Record<string, string>;
  body?: string | Buffer | Readable;
  /** The caller resumes the request itself: the retry layer must not send it again. */
  once?: boolean;
  what: string;
}

/**
 * The registries one command talks to. Each host gets its own auth state, created on first use so that a
 * host never asked costs nothing; connection pools are the transport's, one per host whatever the role
 * (registry, token realm, blob storage behind a redirect).
 */
export class RegistryClient {
  readonly #options: RegistryClientOptions;
  readonly #transport: Transport;
  readonly #retrying: RetryingTransport;
  readonly #hosts = new Map<string, RegistryHost>();

  constructor(options: RegistryClientOptions = {}) {
    this.#options = options;
    this.#transport = new Transport(options);
    this.#retrying = new RetryingTransport(this.#transport, options.retry ?? DEFAULT_RETRY_POLICY);
  }

  /** The API of one registry; `registry` is a normalised reference registry ('docker.io', 'quay.io', 'h:5000'). */
  host(registry: string): RegistryHost {
    const host = apiHost(registry);
    let existing = this.#hosts.get(host);
    if (existing === undefined) {
      existing = new RegistryHost(host, this.#options, this.#retrying);
      this.#hosts.set(host, existing);
    }
    return existing;
  }

  async close(): Promise<void> {
    this.#hosts.clear();
    await this.#transport.close();
  }
}

export class RegistryHost {
  readonly host: string;
  readonly baseUrl: string;
  readonly #options: RegistryClientOptions;
  readonly #retrying: RetryingTransport;
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  #credentials: Promise<Credentials | undefined> | undefined;

  constructor(host: string, options: RegistryClientOptions, retrying: RetryingTransport) {
    this.host = host;
    this.#options = options;
    this.#retrying = retrying;
    this.#transport = retrying.transport;
    this.baseUrl = this.#transport.origin(host);
    // Token realms are often another host (auth.docker.io): they get that host's own trust and pool.
    const tokenRequest: TokenRequest = async (url, init) => {
      const res = await this.#retrying.send({
        method: init.method as Dispatcher.HttpMethod, url: new URL(url), headers: init.headers, via: new URL(this.baseUrl),
        ...(init.body === undefined ? {} : { body: init.body }), what: `token for ${host}`,
      });
      return { status: res.statusCode, headers: res.headers, text: () => res.body.text() };
    };
    const named = host === 'registry-1.docker.io' ? 'docker.io' : host;
    this.#auth = new Authenticator(host, retrying, () => this.credentials(), defaultSchemes(tokenRequest, named));
  }

  get plainHttp(): boolean {
    return this.baseUrl.startsWith('http:');
  }

  /** This host's connection pool, for the odd download that is not a registry API call (an https charm). */
  dispatcher(): Promise<Dispatcher> {
    return this.#transport.dispatcher(this.host);
  }

  /** The credentials used for this registry: given on the command line, else docker's and podman's files. */
  credentials(): Promise<Credentials | undefined> {
    this.#credentials ??= (async () => {
      const hub = this.host === 'registry-1.docker.io' ? 'docker.io' : this.host;
      const given = this.#options.credentials?.get(this.host) ?? this.#options.credentials?.get(hub);
      if (given !== undefined) return given;
      return lookupCredentials(hub, this.#options.dockerConfigPath === undefined ? {} : { configPath: this.#options.dockerConfigPath });
    })();
    return this.#credentials;
  }

  #send(method: Dispatcher.HttpMethod, path: string, options: SendOptions): Promise<HttpResponse> {
    const url = new URL(path, this.baseUrl);
    const scope = [...(options.repository === undefined ? [] : [`repository:${options.repository}:${options.actions}`]), ...(options.extraScopes ?? [])];
    return this.#auth.send({
      method, url, what: options.what,
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.body === undefined ? {} : { body: options.body }),
      ...(options.once === true ? { once: true } : {}),
    }, scope);
  }

  /** The registry's error answer in the operator's words: its spec error code and message, and what to do. */
  async #errorFrom(res: HttpResponse, what: string, repository?: string): Promise<RegistryError> {
    let code: string | undefined;
    let detail = '';
    try {
      const text = (await res.body.text()).slice(0, 4096);
      const parsed: unknown = JSON.parse(text);
      const first = (parsed as { errors?: { code?: unknown; message?: unknown; detail?: unknown }[] }).errors?.[0];
      if (typeof first?.code === 'string') code = first.code;
      const parts = [first?.message, first?.detail].filter((p): p is string => typeof p === 'string' && p !== '' && p !== 'unknown error');
      detail = parts.join(': ');
    } catch {
      // Not every error has a spec error body (proxies, 5xx pages): the status says enough.
    }
    const status = res.statusCode;
    const says = `registry ${this.host} answered ${status}${code === undefined ? '' : ` ${code}`}${detail === '' ? '' : ` (${detail.slice(0, 300)})`}`;
    const fields = { status, ...(code === undefined ? {} : { code }) };
    if (status === 507 || NO_SPACE.test(detail)) {
      return new StorageFullError(`${what}: registry ${this.host} is out of storage space (${detail === '' ? `status ${status}` : detail.slice(0, 200)})`, {
        ...fields, hint: `free space on the storage of ${this.host}, then re-run: what is already pushed is skipped`,
      });
    }
    if (status === 403) {
      return new RegistryError(`${what}: ${says}: access denied`, { ...fields, hint: 'the account lacks permission on this repository' });
    }
    if (status === 404 && repository !== undefined && (code === 'NAME_UNKNOWN' || code === 'NOT_FOUND' || code === 'REPOSITORY_NOT_FOUND')) {
      return new NotFoundError(`${what}: ${says}: the repository ${repository} does not exist there, and this registry does not create repositories on push`, {
        ...fields, hint: `create ${repository} (an ECR repository, a Harbor project) first, then re-run`,
      });
    }
    return new RegistryError(`${what}: ${says}`, {
      ...fields,
      ...(isRetryableStatus(status) ? { hint: 'the registry kept failing; re-run when it is healthy: what is already pushed is skipped' } : {}),
    });
  }

  /** GET /v2/: the registry's status and API version, anonymous or as whoever we are (which proves the credentials). */
  async ping(options: { anonymous: boolean }): Promise<{ status: number; apiVersion: string | undefined }> {
    const what = 'registry API check';
    const res = options.anonymous
      ? await this.#retrying.send({ method: 'GET', url: new URL('/v2/', this.baseUrl), what })
      : await this.#send('GET', '/v2/', { repository: undefined, actions: 'pull', what });
    await res.body.dump();
    return { status: res.statusCode, apiVersion: headerValue(res.headers, 'docker-distribution-api-version') };
  }

  /** GET a manifest by tag or digest, with every schema-2 media type accepted; bytes kept exactly as served. */
  async getManifest(repository: string, reference: string, what: string): Promise<FetchedManifest> {
    const res = await this.#send('GET', `/v2/${repository}/manifests/${reference}`, {
      repository, actions: 'pull', what, headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
    });
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new NotFoundError(`${what}: ${this.host}/${repository}:${reference} not found in the registry`, {
        status: 404, code: 'MANIFEST_UNKNOWN',
        hint: 'check the image name and tag, and that the registry holds it',
      });
    }
    if (res.statusCode !== 200) throw await this.#errorFrom(res, what);
    const bytes = await this.#manifestBody(res, what);
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new DigestMismatchError(`${what}: manifest ${reference} from ${this.host} has content digest ${digest}`, reference, digest);
    }
    const served = headerValue(res.headers, 'docker-content-digest');
    if (served !== undefined && served.startsWith('sha256:') && served !== digest) {
      throw new DigestMismatchError(`${what}: registry ${this.host} says the manifest digest is ${served} but its bytes hash to ${digest}`, served, digest);
    }
    let mediaType = (headerValue(res.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    try {
      const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
      if (typeof declared === 'string') mediaType = declared;
    } catch {
      // parseManifest reports unreadable manifests with context; here the Content-Type is enough.
    }
    return { bytes, mediaType, digest };
  }

  /** A manifest-sized answer, read whole: anything over 4 MiB is not a manifest. */
  async #manifestBody(res: HttpResponse, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of res.body) {
      length += (chunk as Buffer).length;
      if (length > MAX_MANIFEST_BYTES) {
        res.body.destroy();
        throw new RegistryError(`${what}: the manifest from ${this.host} is larger than 4 MiB`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /**
   * GET /v2/<name>/referrers/<digest> (OCI 1.1): the descriptors of the manifests whose `subject` is `digest`
   * (signatures, SBOMs, attestations), every page of them. Undefined when the registry has no referrers API
   * (a 404, as the spec says and distribution 2.8 answers; 405 and 501 from registries that refuse the route):
   * the caller then reads the referrers tag schema instead.
   */
  async listReferrers(repository: string, digest: string, what: string): Promise<Descriptor[] | undefined> {
    const found: Descriptor[] = [];
    let next: string | undefined = `/v2/${repository}/referrers/${digest}`;
    for (let page = 0; next !== undefined && page < 1000; page++) {
      const res = await this.#send('GET', next, { repository, actions: 'pull', what, headers: { accept: OCI_INDEX } });
      if (page === 0 && (res.statusCode === 404 || res.statusCode === 405 || res.statusCode === 501)) {
        await res.body.dump();
        return undefined;
      }
      if (res.statusCode !== 200) throw await this.#errorFrom(res, what);
      const parsed = parseManifest(await this.#manifestBody(res, what), OCI_INDEX, `${what}: referrers of ${digest} from ${this.host}`);
      if (parsed.kind !== 'index') throw new RegistryError(`${what}: registry ${this.host} answered the referrers of ${digest} with something that is not an image index`);
      found.push(...parsed.index.manifests);
      next = /<([^>]+)>;\s*rel="?next"?/.exec(headerValue(res.headers, 'link') ?? '')?.[1];
    }
    return found;
  }

  /** HEAD a manifest: its digest and media type, or undefined when the registry does not have it. */
  async headManifest(repository: string, reference: string, what: string): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const res = await this.#send('HEAD', `/v2/${repository}/manifests/${reference}`, {
      repository, actions: 'pull', what, headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
    });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw await this.#errorFrom(res, what);
    const digest = headerValue(res.headers, 'docker-content-digest');
    if (digest === undefined) {
      // Some registries omit the header on HEAD: the body is small, so fetch it and hash it.
      const fetched = await this.getManifest(repository, reference, what);
      return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length };
    }
    return {
      digest,
      mediaType: (headerValue(res.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '',
      size: Number(headerValue(res.headers, 'content-length') ?? '0'),
    };
  }

  /**
   * PUT a manifest by digest or tag, bytes unchanged, and check the registry kept the digest. `ociSubject` is
   * the registry's OCI-Subject answer: set when it indexed the manifest's subject for its referrers API.
   */
  async putManifest(repository: string, reference: string, doc: ManifestDocument, what: string): Promise<{ ociSubject: string | undefined }> {
    const res = await this.#send('PUT', `/v2/${repository}/manifests/${reference}`, {
      repository, actions: 'pull,push', what, headers: { 'content-type': doc.mediaType, 'content-length': String(doc.bytes.length) }, body: doc.bytes,
    });
    if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 202) throw await this.#errorFrom(res, what, repository);
    await res.body.dump();
    const kept = headerValue(res.headers, 'docker-content-digest');
    if (kept !== undefined && kept !== doc.digest) {
      throw new DigestMismatchError(`${what}: registry ${this.host} stored the manifest as ${kept}, not ${doc.digest}`, doc.digest, kept, {
        hint: 'the registry rewrites manifests; airgap needs one that stores them byte for byte',
      });
    }
    return { ociSubject: headerValue(res.headers, 'oci-subject') };
  }

  /** Every tag of a repository, following the registry's pages; none when the repository does not exist. */
  async listTags(repository: string, what: string): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${repository}/tags/list?n=1000`;
    for (let page = 0; next !== undefined && page < 1000; page++) {
      const res = await this.#send('GET', next, { repository, actions: 'pull', what });
      if (res.statusCode === 404) {
        await res.body.dump();
        return tags;
      }
      if (res.statusCode !== 200) throw await this.#errorFrom(res, what);
      const body = (await res.body.json()) as { tags?: unknown };
      if (Array.isArray(body.tags)) tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
      // RFC 5988 Link: <url>; rel="next"
      next = /<([^>]+)>;\s*rel="?next"?/.exec(headerValue(res.headers, 'link') ?? '')?.[1];
    }
    return tags;
  }

  /** Does `repository` hold the blob? A redirect (to storage, as registries hand blobs out) says it does. */
  async hasBlob(repository: string, digest: string, what: string): Promise<boolean> {
    const res = await this.#send('HEAD', `/v2/${repository}/blobs/${digest}`, { repository, actions: 'pull', what });
    await res.body.dump();
    if (res.statusCode === 404) return false;
    if ((res.statusCode >= 200 && res.statusCode < 300) || REDIRECT_STATUSES.has(res.statusCode)) return true;
    throw await this.#errorFrom(res, what);
  }

  /**
   * Stream a blob, verified against its descriptor as it flows. A redirect is followed to wherever the
   * registry sends it (another origin: no credentials go there). A connection that breaks mid-blob is
   * resumed with a Range request from the last byte received, asking the registry again, since a signed
   * storage URL may have expired: a 2 GB layer is not fetched twice. Given a `hasher` that has already
   * seen the blob's first bytes (a download a killed run left half-way), it asks only for the rest.
   */
  async *getBlob(repository: string, descriptor: Descriptor, what: string, options: { hasher?: DigestHasher } = {}): AsyncGenerator<Buffer> {
    const hasher = options.hasher ?? new DigestHasher({ digest: descriptor.digest, size: descriptor.size, what: `${what}: blob ${descriptor.digest} from ${this.host}` });
    const attempts = new Attempts(this.#options.retry ?? DEFAULT_RETRY_POLICY, this.#options.signal);
    for (;;) {
      let body: Dispatcher.ResponseData['body'] | undefined;
      try {
        const offset = hasher.bytes;
        const res = await this.#openBlob(repository, descriptor.digest, offset, what);
        body = res.body;
        // A server that ignores Range sends the whole blob again: skip what we already have.
        let skip = offset > 0 && res.statusCode === 200 ? offset : 0;
        for await (const raw of body) {
          let chunk = raw as Buffer;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          hasher.update(chunk);
          yield chunk;
        }
        if (hasher.bytes < descriptor.size) throw Object.assign(new Error('connection closed before the end of the blob'), { code: 'ECONNRESET' });
        break;
      } catch (err: unknown) {
        body?.destroy();
        if (err instanceof AirgapError) throw err;
        try {
          await attempts.failed(err);
        } catch {
          throw new RegistryError(`${what}: download of blob ${descriptor.digest} from ${this.host} failed at byte ${hasher.bytes} of ${descriptor.size}: ${messageOf(err)}`, { cause: err });
        }
      }
    }
    hasher.verify();
  }

  /** A whole small blob (an image config) in memory, verified. */
  async blobBytes(repository: string, descriptor: Descriptor, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.getBlob(repository, descriptor, what)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  /** The response carrying a blob's bytes from `offset`: from the registry, or from where it redirects. */
  async #openBlob(repository: string, digest: string, offset: number, what: string): Promise<HttpResponse> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res = await this.#send('GET', `/v2/${repository}/blobs/${digest}`, { repository, actions: 'pull', what, headers, once: true });
    let from = new URL(`/v2/${repository}/blobs/${digest}`, this.baseUrl);
    for (let hops = 0; REDIRECT_STATUSES.has(res.statusCode); hops++) {
      const location = headerValue(res.headers, 'location');
      await res.body.dump();
      if (location === undefined || hops >= MAX_REDIRECTS) {
        throw new RegistryError(`${what}: ${from.host} redirected blob ${digest} ${location === undefined ? 'without a Location' : 'too many times'}`);
      }
      const target = new URL(location, from);
      // Storage and CDNs get no Authorization and no registry credentials: only the Range asked for.
      res = await this.#transport.request({ method: 'GET', url: target, headers, what: `${what}: blob ${digest} from ${target.host} (where ${this.host} redirected)`, once: true, via: from });
      from = target;
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new NotFoundError(`${what}: blob ${digest} not found in ${this.host}/${repository}`, { status: 404, code: 'BLOB_UNKNOWN' });
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      const err = await this.#errorFrom(res, what);
      // A busy registry or storage is worth the resume loop's next try; anything else is final.
      if (isRetryableStatus(res.statusCode)) throw Object.assign(new Error(err.message), { code: 'ECONNRESET', cause: err });
      throw err;
    }
    return res;
  }

  /** Link a blob already in `fromRepository` into `repository` without sending it; false when the registry declines. */
  async mountBlob(repository: string, digest: string, fromRepository: string, what: string): Promise<boolean> {
    const res = await this.#send('POST', `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`, {
      repository, actions: 'pull,push', extraScopes: [`repository:${fromRepository}:pull`], what,
    });
    if (res.statusCode === 201) {
      await res.body.dump();
      return true;
    }
    if (res.statusCode === 202) {
      // The registry declined to mount and opened an upload instead: close it so it does not linger.
      await res.body.dump();
      await this.#session(repository, res, what).cancel();
      return false;
    }
    throw await this.#errorFrom(res, what, repository);
  }

  /** Open an upload session, ahead of the bytes if the caller likes: a WAN round trip saved per blob. */
  async startUpload(repository: string, what: string): Promise<UploadSession> {
    const res = await this.#send('POST', `/v2/${repository}/blobs/uploads/`, { repository, actions: 'pull,push', what });
    if (res.statusCode !== 202) throw await this.#errorFrom(res, what, repository);
    await res.body.dump();
    return this.#session(repository, res, what);
  }

  /**
   * Push one blob from a stream, verified against its descriptor before its last byte is sent, in chunks
   * that resume from the registry's byte count; the session is cancelled when it fails. `session` is one
   * opened ahead with startUpload.
   */
  async putBlob(repository: string, descriptor: Descriptor, source: AsyncIterable<Buffer> | Iterable<Buffer>, options: UploadOptions & { session?: UploadSession }): Promise<void> {
    const session = options.session ?? (await this.startUpload(repository, options.what));
    await session.upload(descriptor, source, options);
  }

  /** DELETE a blob from a repository; the status says whether the registry allows it (202) or not (405). */
  async deleteBlob(repository: string, digest: string, what: string): Promise<number> {
    const res = await this.#send('DELETE', `/v2/${repository}/blobs/${digest}`, {
      repository, actions: 'pull,push', extraScopes: [`repository:${repository}:delete`], what,
    });
    if (res.statusCode >= 400 && res.statusCode !== 404 && res.statusCode !== 405) throw await this.#errorFrom(res, what);
    await res.body.dump();
    return res.statusCode;
  }

  #session(repository: string, res: HttpResponse, what: string): UploadSession {
    const location = headerValue(res.headers, 'location');
    if (location === undefined) throw new RegistryError(`${what}: registry ${this.host} opened an upload without a Location`);
    const sender: UploadSender = {
      send: (method, url, options) => this.#send(method, url, { repository, actions: 'pull,push', ...options }),
      errorFrom: (response, about) => this.#errorFrom(response, about, repository),
      hasBlob: (digest, about) => this.hasBlob(repository, digest, about),
      host: this.host,
      retry: this.#options.retry ?? DEFAULT_RETRY_POLICY,
      signal: this.#options.signal,
    };
    return new UploadSession(sender, new URL(location, this.baseUrl).href, what);
  }
}
