import { listrLoadRenderer, plainLoadRenderer, type LoadRenderer } from '../cli/load-progress.ts';
import { formatBytes } from '../fs/atomic-file.ts';
import { load, type LoadResult } from '../load/load.ts';
import { loadViaDocker, type DockerLoadResult } from '../load/via-docker.ts';
import type { Credentials } from '../store/registry/credentials.ts';
import { credentialsFromFlags } from './credentials.ts';
import { withRenderer, type CommandIo } from './io.ts';

export interface LoadCommandOptions {
  registry: string;
  caFile: string[];
  plainHttp: string[];
  username?: string;
  passwordStdin?: boolean;
  concurrency: number;
  json: boolean;
  via: 'registry' | 'docker';
  charmsDir: string;
}

/** `airgap load [DIR | images.tar.gz]`. */
export async function loadCommand(source: string | undefined, options: LoadCommandOptions, io: CommandIo): Promise<void> {
  const credentials = await credentialsFromFlags(options, io);
  let renderer: LoadRenderer | undefined;
  if (!options.json) {
    renderer = io.isTty
      ? listrLoadRenderer()
      : plainLoadRenderer((line) => (line.startsWith('warning:') ? io.stderr(`${line}\n`) : io.stdout(`${line}\n`)));
  }
  if (options.via === 'docker') {
    await loadViaDockerCommand(source, options, io, renderer, credentials);
    return;
  }
  const result: LoadResult = await withRenderer(renderer, () =>
    load({
      source: source ?? '.',
      registry: options.registry,
      caFiles: options.caFile,
      plainHttp: options.plainHttp,
      ...(credentials === undefined ? {} : { credentials }),
      concurrency: options.concurrency,
      charmsDir: options.charmsDir,
      signal: io.signal,
      onEvent: (event) => renderer?.onEvent(event),
    }),
  );
  if (options.json) {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  for (const w of result.warnings) if (io.isTty) io.stderr(`warning: ${w}\n`);
  const present = result.images.filter((i) => i.alreadyPresent).length;
  io.stdout(
    `Loaded ${result.images.length} images into ${options.registry}` +
      `${present > 0 ? ` (${present} already there)` : ''}: ${result.uploadedBlobs} blobs uploaded (${formatBytes(result.uploadedBytes)}), ` +
      `${result.mountedBlobs} mounted, ${result.skippedBlobs} already present\n` +
      `  ${result.imagesMap}\n` +
      (result.charmsDir === undefined ? '' : `  ${result.charms.length} files unpacked into ${result.charmsDir}\n`),
  );
}

/** `airgap load --via docker`: the daemon loads, tags and pushes; its own registry settings apply. */
async function loadViaDockerCommand(source: string | undefined, options: LoadCommandOptions, io: CommandIo, renderer: LoadRenderer | undefined, credentials: Credentials | undefined): Promise<void> {
  if (options.caFile.length > 0 || options.plainHttp.length > 0) {
    io.stderr('warning: --ca-file and --plain-http do not apply with --via docker: the daemon\'s own settings do (/etc/docker/certs.d, insecure-registries)\n');
  }
  const result: DockerLoadResult = await withRenderer(renderer, () =>
    loadViaDocker({
      source: source ?? '.',
      registry: options.registry,
      ...(credentials === undefined ? {} : { credentials }),
      concurrency: options.concurrency,
      charmsDir: options.charmsDir,
      signal: io.signal,
      onEvent: (event) => renderer?.onEvent(event),
    }),
  );
  if (options.json) {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  for (const w of result.warnings) if (io.isTty) io.stderr(`warning: ${w}\n`);
  io.stdout(
    `Pushed ${result.images.length} images into ${options.registry} through the Docker daemon at ${result.daemon.host}` +
      `${result.skipped.length > 0 ? ` (${result.skipped.length} pinned by digest skipped)` : ''}: ` +
      `${result.changedDigests.length} with a digest other than the lock's\n` +
      `  ${result.imagesMap}\n` +
      (result.charmsDir === undefined ? '' : `  ${result.charms.length} files unpacked into ${result.charmsDir}\n`),
  );
}
