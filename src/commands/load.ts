import { listrLoadRenderer, plainLoadRenderer, type LoadRenderer } from '../cli/load-progress.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { load, type LoadResult } from '../load/load.ts';
import { loadViaDocker, type DockerLoadResult } from '../load/via-docker.ts';
import type { LoadEvent } from '../load/events.ts';
import { credentialsFromFlags } from './credentials.ts';
import { printable } from '../util/printable.ts';
import { withRenderer, type CommandIo } from './io.ts';
import type { LoadCommandOptions } from '../cli/command-line.ts';

/** `airgap load [DIR | images.tar.gz]`. */
export async function loadCommand(source: string | undefined, options: LoadCommandOptions, io: CommandIo): Promise<void> {
  const credentials = await credentialsFromFlags(options, io);
  let renderer: LoadRenderer | undefined;
  if (!options.json) {
    renderer = io.isTty
      ? listrLoadRenderer()
      : plainLoadRenderer((line) => (line.startsWith('warning:') ? io.stderr(`${line}\n`) : io.stdout(`${line}\n`)));
  }
  // What both paths take: the registry path adds its trust flags, the daemon path has its own.
  const common = {
    source: source ?? '.',
    registry: options.registry,
    ...(credentials === undefined ? {} : { credentials }),
    concurrency: options.concurrency,
    charmsDir: options.charmsDir,
    noLock: !options.lock,
    signal: io.signal,
    onEvent: (event: LoadEvent) => renderer?.onEvent(event),
  };
  if (options.via === 'docker') {
    await loadViaDockerCommand(options, io, renderer, () => loadViaDocker(common));
    return;
  }
  const result: LoadResult = await withRenderer(renderer, () => load({ ...common, caFiles: options.caFile, plainHttp: options.plainHttp, ...(options.chunkSize === undefined ? {} : { chunkBytes: options.chunkSize }) }));
  if (options.json) {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  for (const w of result.warnings) if (io.isTty) io.stderr(`warning: ${printable(w)}\n`);
  const present = result.images.filter((i) => i.alreadyPresent).length;
  io.stdout(
    `Loaded ${result.images.length} images into ${options.registry}${result.lock === 'none' ? ' without a lock (--no-lock)' : ''}` +
      `${present > 0 ? ` (${present} already there)` : ''}: ${result.uploadedBlobs} blobs uploaded (${formatBytes(result.uploadedBytes)}), ` +
      `${result.mountedBlobs} mounted, ${result.skippedBlobs} already present\n` +
      `  ${printable(result.imagesMap)}\n` +
      (result.charmsDir === undefined ? '' : `  ${result.charms.length} files unpacked into ${printable(result.charmsDir)}\n`),
  );
}

/** `airgap load --via docker`: the daemon loads, tags and pushes; its own registry settings apply. */
async function loadViaDockerCommand(options: LoadCommandOptions, io: CommandIo, renderer: LoadRenderer | undefined, run: () => Promise<DockerLoadResult>): Promise<void> {
  if (options.caFile.length > 0 || options.plainHttp.length > 0) {
    io.stderr('warning: --ca-file and --plain-http do not apply with --via docker: the daemon\'s own settings do (/etc/docker/certs.d, insecure-registries)\n');
  }
  const result = await withRenderer(renderer, run);
  if (options.json) {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  for (const w of result.warnings) if (io.isTty) io.stderr(`warning: ${printable(w)}\n`);
  io.stdout(
    `Pushed ${result.images.length} images into ${options.registry} through the Docker daemon at ${result.daemon.host}${options.lock ? '' : ' without a lock (--no-lock)'}` +
      `${result.skipped.length > 0 ? ` (${result.skipped.length} pinned by digest skipped)` : ''}: ` +
      `${result.changedDigests.length} with a digest other than the lock's\n` +
      `  ${result.imagesMap}\n` +
      (result.charmsDir === undefined ? '' : `  ${result.charms.length} files unpacked into ${result.charmsDir}\n`),
  );
}
