import { listrLoadRenderer, plainLoadRenderer, type LoadRenderer } from '../cli/load-progress.ts';
import { formatBytes } from '../fs/atomic-file.ts';
import { load, type LoadResult } from '../load/load.ts';
import { credentialsFromFlags } from './credentials.ts';
import type { CommandIo } from './io.ts';

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
  let result: LoadResult;
  try {
    result = await load({
      source: source ?? '.',
      registry: options.registry,
      caFiles: options.caFile,
      plainHttp: options.plainHttp,
      ...(credentials === undefined ? {} : { credentials }),
      concurrency: options.concurrency,
      charmsDir: options.charmsDir,
      signal: io.signal,
      onEvent: (event) => renderer?.onEvent(event),
    });
  } catch (err: unknown) {
    await renderer?.finish(err);
    throw err;
  }
  await renderer?.finish();
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
