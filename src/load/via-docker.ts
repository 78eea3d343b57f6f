import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import { extract } from 'tar-stream';
import { connectDaemon, daemonErrorMessage, DaemonStreamError, followProgress, type ProgressMessage } from '../daemon.ts';
import { AirgapError, messageOf } from '../errors.ts';
import { archiveStream, type ArchiveFiles } from '../archive/archive-files.ts';
import { describeBase } from '../archive/differential.ts';
import { isGzip } from '../archive/read-archive.ts';
import { LOCK_FILE_NAME, type Lock } from '../lock.ts';
import { tryParseReference } from '../reference.ts';
import { lookupCredentials, type Credentials } from '../store/registry/credentials.ts';
import { settleConcurrently } from '../util/concurrency.ts';
import type { LoadEventListener } from './events.ts';
import { NO_LOCK_WARNING } from './load.ts';
import { IMAGES_MAP_FILE, checkNotEmpty, openLoadSource, unpackCharms, verifyArchiveFile, verifyCharmsFile, writeImagesMap } from './preamble.ts';
import { registryLocation, targetOf, type RegistryLocation } from './target.ts';
import { createArchiveGunzip } from '../archive/gunzip.ts';

export const VIA_DOCKER_WARNING =
  '--via docker cannot keep digests: the Docker daemon stores layers uncompressed and compresses them again when it pushes, ' +
  'and it loads only one platform of a multi-arch index, so every image is pushed under a digest other than the one in ' +
  `${LOCK_FILE_NAME} and references pinned by digest will not resolve (the default --via registry keeps them)`;

export interface DockerLoadOptions {
  /** A directory holding images.tar.gz (and the lock, charms.tar.gz), or the archive itself (ours or a docker save). */
  source: string;
  /** HOST[:PORT][/PREFIX] */
  registry: string;
  /** Sent to the daemon for its pushes; without them, those `docker login` stored for the registry, else none. */
  credentials?: Credentials;
  dockerConfigPath?: string;
  /** Images pushed at once through the daemon. */
  concurrency?: number;
  charmsDir?: string;
  /** Load an archive that has no lock beside it (--no-lock). */
  noLock?: boolean;
  /** DOCKER_HOST and the docker config location are read from here. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onEvent?: LoadEventListener;
}

export interface DockerPushedImage {
  /** The reference as the release wrote it (from the lock), or as the archive tagged it. */
  reference: string;
  /** Its name without host, as in the lock. */
  path: string;
  /** Where it was pushed: REGISTRY[/PREFIX]/PATH. */
  private: string;
  /** The digest the daemon pushed: not the lock's (see VIA_DOCKER_WARNING). */
  digest: string;
  /** The digest airgap-lock.json records, when there is a lock. */
  lockDigest: string | undefined;
  /** The daemon's image ID, which is the config's digest: the one thing the daemon's push keeps. */
  imageId: string;
}

export interface DockerLoadResult {
  via: 'docker';
  archive: string;
  /** DOCKER_HOST of the daemon used, and its version. */
  daemon: { host: string; version: string };
  images: DockerPushedImage[];
  /** Images the daemon cannot push (pinned by digest only: a push needs a tag). */
  skipped: string[];
  /** Paths of the images pushed under a digest other than the lock's. */
  changedDigests: string[];
  imagesMap: string;
  charms: string[];
  charmsDir: string | undefined;
  warnings: string[];
}

/** An image to push: the name the archive gave it in the daemon and the path it takes in the registry. */
interface Planned {
  reference: string;
  path: string;
  loadedAs: string;
  lockDigest: string | undefined;
}

class StopPeeking extends Error {}

/** The tar stream of the archive, gunzipped when it is gzip. */
function openArchive(archive: ArchiveFiles, gzip: boolean, signal: AbortSignal | undefined): { tar: Readable; reading: Promise<void> } {
  const file = archiveStream(archive, signal);
  if (!gzip) return { tar: file, reading: Promise.resolve() };
  const gunzip = createArchiveGunzip();
  const reading = pipeline(file, gunzip);
  reading.catch(() => {});
  return { tar: gunzip, reading };
}

/**
 * The first member's name says which layout this is: ours starts with its small files, the --per-image
 * layout with an inner tar (which `docker load` cannot take as such), docker save with a layer directory.
 */
async function firstMember(archive: ArchiveFiles, gzip: boolean): Promise<string | undefined> {
  const { tar } = openArchive(archive, gzip, undefined);
  const ex = extract();
  const walking = pipeline(tar, ex);
  walking.catch(() => {});
  let name: string | undefined;
  try {
    for await (const entry of ex) {
      name = entry.header.name.replace(/^\.\//, '');
      entry.resume();
      throw new StopPeeking();
    }
  } catch (err: unknown) {
    if (!(err instanceof StopPeeking)) throw new AirgapError(`${archive.path} is not a tar archive: ${messageOf(err)}`, { cause: err, hint: 'give images.tar.gz as airgap collect wrote it, or a docker save archive' });
  } finally {
    tar.destroy();
  }
  return name;
}

function isInnerTar(name: string): boolean {
  // skopeo's docker-archive stores layers as <digest>.tar at the root: those are layers, not images.
  return name.endsWith('.tar') && !name.includes('/') && !/^[a-f0-9]{64}\.tar$/.test(name);
}

/** The RepoTag our manifest.json gives an image written as `reference` (src/archive/image-layout.ts): none when pinned by digest only. */
function repoTagOf(reference: string): string | undefined {
  const ref = tryParseReference(reference);
  if (ref === undefined || (ref.tag === undefined && ref.digest !== undefined)) return undefined;
  const name = ref.host === undefined ? ref.name : `${ref.host}/${ref.name}`;
  return `${name}:${ref.tag ?? 'latest'}`;
}

function pushHint(host: string, message: string): string | undefined {
  if (/server gave HTTP response to HTTPS client/i.test(message)) {
    return `the registry speaks plain HTTP: add "${host}" to "insecure-registries" in /etc/docker/daemon.json and restart dockerd`;
  }
  if (/x509|certificate/i.test(message)) return `make the daemon trust the registry's CA: put it in /etc/docker/certs.d/${host}/ca.crt`;
  if (/unauthorized|authentication required|no basic auth credentials|denied/i.test(message)) {
    return `give --username with --password-stdin, or run docker login ${host} first`;
  }
  if (/connection refused|no such host|i\/o timeout|no route to host/i.test(message)) return `check that ${host} is reachable from the Docker daemon's machine`;
  return undefined;
}

/** The digest a push stream reports: the aux record, else the "TAG: digest: sha256:… size: N" line of older daemons. */
function pushedDigest(messages: readonly ProgressMessage[]): string | undefined {
  for (const message of messages) {
    if (message.aux?.Digest !== undefined) return message.aux.Digest;
  }
  for (const message of messages) {
    const match = /digest: (sha256:[a-f0-9]{64})/.exec(message.status ?? '');
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

function authConfigOf(credentials: Credentials | undefined, serveraddress: string): Dockerode.AuthConfig {
  // The daemon refuses a push without the X-Registry-Auth header, so "no credentials" is an empty one.
  if (credentials === undefined) return {};
  if ('identityToken' in credentials) return { identitytoken: credentials.identityToken, serveraddress };
  return { username: credentials.username, password: credentials.password, serveraddress };
}

/**
 * `airgap load --via docker`: for sites whose registry access (insecure-registries, certs.d, proxy) is set
 * up only in the Docker daemon. The archive goes to the daemon as `docker load` takes it, then each image
 * is tagged REGISTRY[/PREFIX]/PATH and pushed by the daemon, as the guide does by hand. The daemon
 * recompresses layers and keeps one platform, so digests change: said up front, and listed at the end.
 */
export async function loadViaDocker(options: DockerLoadOptions): Promise<DockerLoadResult> {
  const emit: LoadEventListener = options.onEvent ?? (() => {});
  const env = options.env ?? process.env;
  const source = await openLoadSource(options.source, { noLock: options.noLock });
  const { archive, lock } = source;
  if (lock?.base !== undefined) {
    throw new AirgapError(`${archive} is a differential archive (collect --since ${describeBase(lock.base)}): docker load needs every layer, and it leaves out ${lock.leftOut?.length ?? 0}; nothing was loaded`, {
      hint: 'load it with --via registry (the default), into the registry that holds its base release',
    });
  }
  await verifyCharmsFile(source, options.signal);
  const location = registryLocation(options.registry);
  const daemon = await connectDaemon(env);
  emit({ type: 'daemon', host: daemon.host, version: daemon.version });
  const warnings: string[] = [VIA_DOCKER_WARNING];
  emit({ type: 'warning', message: VIA_DOCKER_WARNING });
  if (lock === undefined) {
    warnings.push(NO_LOCK_WARNING);
    emit({ type: 'warning', message: NO_LOCK_WARNING });
  }
  // The daemon takes the archive whole: it must be the lock's before the daemon sees a byte of it.
  await verifyArchiveFile(source, 'nothing was loaded into the Docker daemon', options.signal);

  const loaded = await loadArchive(daemon.docker, source.files, lock, options.signal, emit);

  const skipped: string[] = [];
  const planned: Planned[] = [];
  if (lock !== undefined) {
    for (const image of lock.images) {
      const loadedAs = repoTagOf(image.reference);
      if (loadedAs === undefined) {
        skipped.push(image.path);
        continue;
      }
      planned.push({ reference: image.reference, path: image.path, loadedAs, lockDigest: image.digest });
    }
  } else {
    for (const reference of loaded) {
      const path = tryParseReference(reference)?.path;
      if (path !== undefined) planned.push({ reference, path, loadedAs: reference, lockDigest: undefined });
    }
    checkNotEmpty(archive, loaded.length);
    if (planned.length === 0) throw new AirgapError(`the Docker daemon loaded no tagged image from ${archive}`, { hint: 'an image without a tag in the archive cannot be pushed by name' });
  }
  const referrers = lock?.images.reduce((n, i) => n + (i.referrers?.length ?? 0), 0) ?? 0;
  if (referrers > 0) {
    // docker load takes images only, and the daemon pushes them under new digests that nothing refers to.
    const message = `the ${referrers} referrer(s) in the archive (signatures, SBOMs, attestations) are not loaded through the Docker daemon; load with --via registry to carry them`;
    warnings.push(message);
    emit({ type: 'warning', message });
  }
  if (skipped.length > 0) {
    const message = `${skipped.length} image(s) pinned by digest only cannot be pushed through the Docker daemon (a push needs a tag): ${skipped.join(', ')}; load them with --via registry`;
    warnings.push(message);
    emit({ type: 'warning', message });
  }

  const credentials = options.credentials ?? (await lookupCredentials(location.host, { env, ...(options.dockerConfigPath === undefined ? {} : { configPath: options.dockerConfigPath }) }));
  const authconfig = authConfigOf(credentials, location.host);
  const settled = await settleConcurrently(planned, options.concurrency ?? 4, (image) => pushImage(daemon.docker, image, location, authconfig, options.signal, emit), options.signal);
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failures.length > 0) {
    const first = failures[0];
    if (failures.length > 1 && first instanceof AirgapError) {
      throw new AirgapError(`${first.message} (and ${failures.length - 1} more image(s) failed)`, { cause: first, ...(first.hint === undefined ? {} : { hint: first.hint }) });
    }
    throw first;
  }
  const images = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));

  const imagesMap = await writeImagesMap(source.dir, options.registry, images);

  const changedDigests = images.filter((i) => i.lockDigest !== undefined && i.lockDigest !== i.digest).map((i) => i.path);
  if (changedDigests.length > 0) {
    const message = `${changedDigests.length} of ${images.length} images were pushed under a digest other than ${LOCK_FILE_NAME}'s (${IMAGES_MAP_FILE} has the new ones): ${changedDigests.join(', ')}`;
    warnings.push(message);
    emit({ type: 'warning', message });
  }

  const { charms, charmsDir } = await unpackCharms(source, options.charmsDir, (name, size) => emit({ type: 'charm', file: name, size }));
  return { via: 'docker', archive, daemon: { host: daemon.host, version: daemon.version }, images, skipped, changedDigests, imagesMap, charms, charmsDir, warnings };
}

/**
 * `docker load` of the archive, streamed from the file (the daemon takes the gzip stream as it is); the
 * --per-image layout is a tar of tars, so each inner tar is loaded on its own. Returns the references the
 * daemon says it loaded. The file was checked against the lock before (verifyArchiveFile).
 */
async function loadArchive(docker: Dockerode, files: ArchiveFiles, lock: Lock | undefined, signal: AbortSignal | undefined, emit: LoadEventListener): Promise<string[]> {
  const archive = files.path;
  const gzip = await isGzip(files.files[0]?.path ?? archive);
  const first = await firstMember(files, gzip);
  const perImage = first !== undefined && isInnerTar(first);
  const loaded: string[] = [];
  const onMessage = (message: ProgressMessage): void => {
    const text = message.stream?.trim();
    const match = text === undefined ? null : /^Loaded image: (.+)$/.exec(text);
    if (match?.[1] !== undefined) {
      loaded.push(match[1]);
      emit({ type: 'daemon-loaded', reference: match[1] });
    } else if (message.status !== undefined) {
      emit({ type: 'daemon-progress', image: message.id, status: `${message.status}${message.progress === undefined ? '' : ` ${message.progress}`}` });
    }
  };
  const load = async (body: Readable, what: string): Promise<void> => {
    try {
      // quiet=false: the daemon reports each layer as it goes, which is all the progress a big load shows.
      const stream = await docker.loadImage(body, { quiet: false, ...(signal === undefined ? {} : { abortSignal: signal }) });
      await followProgress(stream, onMessage);
    } catch (err: unknown) {
      signal?.throwIfAborted();
      const message = err instanceof DaemonStreamError ? err.message : daemonErrorMessage(err);
      throw new AirgapError(`the Docker daemon could not load ${what}: ${message}`, {
        cause: err,
        hint: /no space left/i.test(message) ? "free space in the Docker daemon's data root (docker system df)" : 'check that the archive was copied across whole (compare its sha256 with airgap-lock.json)',
      });
    }
  };

  const { tar, reading } = openArchive(files, gzip && perImage, signal);
  emit({ type: 'archive', path: archive, images: lock?.images.length ?? 0, layout: perImage ? 'per-image' : first === 'oci-layout' || first === 'index.json' ? 'oci+docker' : 'docker-save' });
  if (perImage) {
    const ex = extract();
    const walking = pipeline(tar, ex);
    walking.catch(() => {});
    try {
      for await (const entry of ex) {
        const name = entry.header.name.replace(/^\.\//, '');
        // Wrapped: tar-stream's entries are streamx streams, and dockerode pipes its body as a Node stream.
        if (entry.header.type === 'file' && isInnerTar(name)) await load(Readable.from(entry), `${name} of ${archive}`);
        else entry.resume();
      }
      await walking;
    } finally {
      tar.destroy();
    }
  } else {
    await load(tar, archive);
  }
  await reading;

  return loaded;
}

/** Tag one loaded image REGISTRY[/PREFIX]/PATH in the daemon and push it; the daemon picks the digest. */
async function pushImage(docker: Dockerode, image: Planned, location: RegistryLocation, authconfig: Dockerode.AuthConfig, signal: AbortSignal | undefined, emit: LoadEventListener): Promise<DockerPushedImage> {
  const target = targetOf(location, image.path);
  const repository = `${location.host}/${target.repository}`;
  // A path pinned by tag and digest is pushed under its tag: the daemon cannot push to a digest.
  const tag = target.tag ?? 'latest';
  const pushedAs = `${repository}:${tag}`;
  const what = `image ${image.path}`;
  const abort = signal === undefined ? {} : { abortSignal: signal };
  let imageId: string;
  try {
    imageId = (await docker.getImage(image.loadedAs).inspect()).Id;
  } catch (err: unknown) {
    signal?.throwIfAborted();
    throw new AirgapError(`${what}: ${image.loadedAs} is not in the Docker daemon after docker load (${daemonErrorMessage(err)})`, {
      cause: err,
      hint: `copy images.tar.gz and ${LOCK_FILE_NAME} from the same collect`,
    });
  }
  try {
    await docker.getImage(imageId).tag({ repo: repository, tag, ...abort });
  } catch (err: unknown) {
    signal?.throwIfAborted();
    throw new AirgapError(`${what}: the Docker daemon could not tag it ${pushedAs}: ${daemonErrorMessage(err)}`, { cause: err });
  }
  let messages: ProgressMessage[];
  try {
    const stream = await docker.getImage(repository).push({ tag, authconfig, ...abort });
    messages = await followProgress(stream, (message) => {
      if (message.status !== undefined && message.id !== undefined) emit({ type: 'daemon-progress', image: image.path, status: `${message.id}: ${message.status}${message.progress === undefined ? '' : ` ${message.progress}`}` });
    });
  } catch (err: unknown) {
    signal?.throwIfAborted();
    const message = err instanceof DaemonStreamError ? err.message : daemonErrorMessage(err);
    const hint = pushHint(location.host, message);
    throw new AirgapError(`${what}: the Docker daemon could not push ${pushedAs}: ${message}`, { cause: err, ...(hint === undefined ? {} : { hint }) });
  }
  const digest = pushedDigest(messages);
  if (digest === undefined) throw new AirgapError(`${what}: the Docker daemon pushed ${pushedAs} but reported no digest`, { hint: 'check the image in the registry; re-run to push it again' });
  const privateReference = target.reference.includes('@') ? pushedAs : target.reference;
  emit({ type: 'image-pushed', path: image.path, reference: privateReference, digest });
  return { reference: image.reference, path: image.path, private: privateReference, digest, lockDigest: image.lockDigest, imageId };
}
