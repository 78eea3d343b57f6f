import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSea } from 'node:sea';
import { defaultCacheDir } from '../cache/blob-cache.ts';
import { collect } from '../collect/collect.ts';
import { listRelease } from '../collect/list.ts';
import { isToolPlatform, TOOL_PLATFORMS, toolFileName, type IncludeToolOptions, type ToolPlatform } from '../collect/tool-files.ts';
import { UsageError } from '../errors.ts';
import type { CollectCommandOptions } from '../cli/command-line.ts';
import { collectReporters, listingReporters } from '../cli/collect-report.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import { credentialsFromFlags } from './credentials.ts';
import type { CommandIo } from './io.ts';

/** --cache DIR, --no-cache (false), or neither: the default cache. */
function cacheOption(cache: string | boolean | undefined): { cacheDir?: string } {
  if (cache === false) return {};
  return { cacheDir: typeof cache === 'string' ? cache : defaultCacheDir() };
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
    mirrors: options.mirror,
    ...(options.charmhubUrl === undefined ? {} : { charmhubUrl: options.charmhubUrl }),
    ...(options.juju === undefined ? {} : { jujuPath: options.juju }),
    ...(options.jujuVersion === undefined ? {} : { jujuVersion: options.jujuVersion }),
    ...(options.jujuImages ? {} : { jujuImages: false }),
    signal: io.signal,
  };
  if (options.list) {
    const reporter = reporterFor(listingReporters, io, options.json);
    await reporting(reporter, async () => reporter.onEvent({ type: 'listed', listing: await listRelease(planOptions) }));
    return;
  }
  const credentials = await credentialsFromFlags(options, io);
  const reporter = reporterFor(collectReporters, io, options.json);
  await reporting(reporter, async () => {
    const result = await collect({
      ...planOptions,
      outputDir: options.output,
      allowOutside: options.allowOutside,
      platforms: options.platform,
      caFiles: options.caFile,
      plainHttp: options.plainHttp,
      ...(credentials === undefined ? {} : { credentials }),
      perImage: options.perImage,
      ...cacheOption(options.cache),
      ...(options.since === undefined ? {} : { since: options.since }),
      ...(options.split === undefined ? {} : { splitBytes: options.split }),
      withReferrers: options.withReferrers,
      ...(options.includeTool || options.toolPlatform.length > 0 ? { includeTool: toolLocation(options.toolPlatform) } : {}),
      onEvent: (event) => reporter.onEvent(event),
    });
    reporter.onEvent({ type: 'collected', result, withReferrers: options.withReferrers });
  });
}
