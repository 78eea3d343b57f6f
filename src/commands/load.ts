import type { LoadCommandOptions } from '../cli/command-line.ts';
import { loadReporters } from '../cli/load-report.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import { load } from '../load/load.ts';
import type { LoadEvent } from '../load/events.ts';
import { loadViaDocker } from '../load/via-docker.ts';
import { credentialsFromFlags } from './credentials.ts';
import type { CommandIo } from './io.ts';

/** `airgap load [DIR | images.tar.gz]`. */
export async function loadCommand(source: string | undefined, options: LoadCommandOptions, io: CommandIo): Promise<void> {
  const credentials = await credentialsFromFlags(options, io);
  const reporter = reporterFor(loadReporters, io, options.json);
  // What both paths take: the registry path adds its trust flags, the daemon path has its own.
  const common = {
    source: source ?? '.',
    registry: options.registry,
    ...(credentials === undefined ? {} : { credentials }),
    concurrency: options.concurrency,
    charmsDir: options.charmsDir,
    noLock: !options.lock,
    signal: io.signal,
    onEvent: (event: LoadEvent) => reporter.onEvent(event),
  };
  await reporting(reporter, async () => {
    if (options.via === 'docker') {
      if (options.caFile.length > 0 || options.plainHttp.length > 0) {
        reporter.onEvent({ type: 'warning', message: '--ca-file and --plain-http do not apply with --via docker: the daemon\'s own settings do (/etc/docker/certs.d, insecure-registries)' });
      }
      const result = await loadViaDocker(common);
      reporter.onEvent({ type: 'loaded-via-docker', result, registry: options.registry, lock: options.lock });
      return;
    }
    const result = await load({ ...common, caFiles: options.caFile, plainHttp: options.plainHttp, ...(options.chunkSize === undefined ? {} : { chunkBytes: options.chunkSize }) });
    reporter.onEvent({ type: 'loaded', result, registry: options.registry });
  });
}
