import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSea } from 'node:sea';
import { collect, type CollectResult } from '../collect/collect.ts';
import { listRelease, type ReleaseListing } from '../collect/list.ts';
import { isToolPlatform, TOOL_PLATFORMS, toolFileName, type IncludeToolOptions, type ToolPlatform } from '../collect/tool-files.ts';
import { UsageError } from '../errors.ts';
import { listrCollectRenderer, plainCollectRenderer, type CollectRenderer } from '../cli/collect-progress.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { credentialsFromFlags } from './credentials.ts';
import { printable } from '../util/printable.ts';
import { withRenderer, type CommandIo } from './io.ts';
import type { CollectCommandOptions } from '../cli/command-line.ts';

function listingText(listing: ReleaseListing): string {
  const lines = [`${listing.name}${listing.version === '' ? '' : ` ${listing.version}`}: ${listing.images.length} images, ${listing.charms.length} charms downloaded (nothing pulled, nothing written)`];
  for (const image of listing.images) {
    const via = image.pullFrom.length === 1 && image.pullFrom[0] === image.upstream ? '' : `  (pulled from ${image.pullFrom.join(', then ')})`;
    lines.push(`${image.reference}${via}`);
    for (const s of image.sources) {
      lines.push(`    ${s.applications === undefined ? '' : `${s.applications.join(', ')}: `}${s.file}${s.line === undefined ? '' : `:${s.line}`} ${s.key}`);
    }
  }
  if (listing.charms.length > 0) lines.push('charms:');
  for (const c of listing.charms) {
    lines.push(`  ${c.file}  ${c.applications.join(', ')}  ${c.charm}${c.channel === undefined ? '' : ` ${c.channel}`}${c.revision === undefined ? '' : ` revision ${c.revision}`}  sha256:${c.sha256}  ${formatBytes(c.size)}`);
  }
  // References and keys come from charms and release files: each line escaped, so none can forge another.
  return `${lines.map(printable).join('\n')}\n`;
}

/**
 * Where --include-tool finds the executables: beside this one when the collect runs as the executable
 * (itself included, whatever it was renamed to), else in dist/ of the source tree, where `npm run package` puts them.
 */
export function toolLocation(platforms: readonly string[]): IncludeToolOptions {
  const wanted = platforms.map((p): ToolPlatform => {
    const name = p.replace(/^linux\/amd64$/, 'linux-x64').replace(/^linux\/arm64(\/v8)?$/, 'linux-arm64');
    if (!isToolPlatform(name)) throw new UsageError(`--tool-platform ${p}: the airgap executable is built for ${Object.keys(TOOL_PLATFORMS).join(' and ')} only`);
    return name;
  });
  const host = `${process.platform}-${process.arch}`;
  if (isSea()) {
    return {
      dir: dirname(process.execPath),
      ...(isToolPlatform(host) ? { self: { platform: host, path: process.execPath } } : {}),
      platforms: wanted,
      hint: `put ${wanted.length === 0 ? 'airgap-linux-<arch>' : wanted.map(toolFileName).join(' and ')} beside ${process.execPath}, or build it with \`npm run package\` in the airgap source tree`,
    };
  }
  // src/commands/ and dist/commands/ are both two levels under the package root.
  const dir = fileURLToPath(new URL('../../dist/', import.meta.url));
  return { dir, platforms: wanted, hint: 'run `npm run package` first: it builds the executables into dist/' };
}


/** `airgap collect [RELEASE]`: options in, one library call, progress and a summary out. */
export async function collectCommand(release: string | undefined, options: CollectCommandOptions, io: CommandIo): Promise<void> {
  const planOptions = {
    release: release ?? 'airgap.yaml',
    concurrency: options.concurrency,
    mirrors: options.mirror ?? [],
    ...(options.charmhubUrl === undefined ? {} : { charmhubUrl: options.charmhubUrl }),
    ...(options.juju === undefined ? {} : { jujuPath: options.juju }),
    signal: io.signal,
  };
  if (options.list === true) {
    const listing = await listRelease(planOptions);
    if (options.json) {
      io.stdout(`${JSON.stringify({ images: listing.images, charms: listing.charms, warnings: listing.warnings }, null, 2)}\n`);
      return;
    }
    for (const w of listing.warnings) io.stderr(`warning: ${printable(w)}\n`);
    io.stdout(listingText(listing));
    return;
  }
  const credentials = await credentialsFromFlags(options, io);
  const warnings: string[] = [];
  let renderer: CollectRenderer | undefined;
  // Off a terminal, progress lines go to stdout so that stderr holds only warnings and the failure line.
  if (!options.json) {
    renderer = io.isTty
      ? listrCollectRenderer()
      : plainCollectRenderer((line) => (line.startsWith('warning:') ? io.stderr(`${line}\n`) : io.stdout(`${line}\n`)));
  }
  const result: CollectResult = await withRenderer(renderer, () =>
    collect({
      ...planOptions,
      outputDir: options.output,
      allowOutside: options.allowOutside === true,
      platforms: options.platform,
      caFiles: options.caFile,
      plainHttp: options.plainHttp,
      ...(credentials === undefined ? {} : { credentials }),
      perImage: options.perImage,
      ...(options.includeTool === true || (options.toolPlatform ?? []).length > 0 ? { includeTool: toolLocation(options.toolPlatform ?? []) } : {}),
      onEvent: (event) => {
        if (event.type === 'warning') warnings.push(event.message);
        renderer?.onEvent(event);
      },
    }),
  );
  if (options.json) {
    io.stdout(`${JSON.stringify({
      lock: result.lockPath,
      images: result.lock.images.map((i) => ({ reference: i.reference, upstream: i.upstream, path: i.path, digest: i.digest, size: i.size, platforms: i.platforms })),
      archives: { images: result.images, charms: result.charms },
      ...(result.lock.tools === undefined ? {} : { tools: result.lock.tools }),
      uniqueBlobBytes: result.uniqueBlobBytes,
      warnings,
    }, null, 2)}\n`);
    return;
  }
  if (io.isTty) for (const w of warnings) io.stderr(`warning: ${printable(w)}\n`);
  io.stdout(
    `Collected ${result.lock.images.length} images (${formatBytes(result.uniqueBlobBytes)} of distinct blobs) and ${result.lock.charms.length} charms\n` +
      `  ${printable(result.images.path)}  ${formatBytes(result.images.size)}\n` +
      `  ${printable(result.charms.path)}  ${formatBytes(result.charms.size)}` +
      `${result.lock.tools === undefined ? '' : ` (with ${result.lock.tools.map((t) => t.file).join(', ')})`}\n` +
      `  ${printable(result.lockPath)}\n`,
  );
}
