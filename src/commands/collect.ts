import { collect, type CollectResult } from '../collect/collect.ts';
import { listrCollectRenderer, plainCollectRenderer, type CollectRenderer } from '../cli/collect-progress.ts';
import { formatBytes } from '../fs/atomic-file.ts';
import type { CommandIo } from './io.ts';

export interface CollectCommandOptions {
  output: string;
  platform: string[];
  concurrency: number;
  caFile: string[];
  plainHttp: string[];
  perImage: boolean;
  json: boolean;
}


/** `airgap collect [RELEASE]`: options in, one library call, progress and a summary out. */
export async function collectCommand(release: string | undefined, options: CollectCommandOptions, io: CommandIo): Promise<void> {
  const warnings: string[] = [];
  let renderer: CollectRenderer | undefined;
  // Off a terminal, progress lines go to stdout so that stderr holds only warnings and the failure line.
  if (!options.json) {
    renderer = io.isTty
      ? listrCollectRenderer()
      : plainCollectRenderer((line) => (line.startsWith('warning:') ? io.stderr(`${line}\n`) : io.stdout(`${line}\n`)));
  }
  let result: CollectResult;
  try {
    result = await collect({
      release: release ?? 'airgap.yaml',
      outputDir: options.output,
      platforms: options.platform,
      concurrency: options.concurrency,
      caFiles: options.caFile,
      plainHttp: options.plainHttp,
      perImage: options.perImage,
      signal: io.signal,
      onEvent: (event) => {
        if (event.type === 'warning') warnings.push(event.message);
        renderer?.onEvent(event);
      },
    });
  } catch (err: unknown) {
    await renderer?.finish(err);
    throw err;
  }
  await renderer?.finish();
  if (options.json) {
    io.stdout(`${JSON.stringify({
      lock: result.lockPath,
      images: result.lock.images.map((i) => ({ reference: i.reference, upstream: i.upstream, path: i.path, digest: i.digest, size: i.size, platforms: i.platforms })),
      archives: { images: result.images, charms: result.charms },
      uniqueBlobBytes: result.uniqueBlobBytes,
      warnings,
    }, null, 2)}\n`);
    return;
  }
  if (io.isTty) for (const w of warnings) io.stderr(`warning: ${w}\n`);
  io.stdout(
    `Collected ${result.lock.images.length} images (${formatBytes(result.uniqueBlobBytes)} of distinct blobs) and ${result.lock.charms.length} charms\n` +
      `  ${result.images.path}  ${formatBytes(result.images.size)}\n` +
      `  ${result.charms.path}  ${formatBytes(result.charms.size)}\n` +
      `  ${result.lockPath}\n`,
  );
}
