import { UsageError } from '../errors.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import { serveReporters } from '../cli/serve-report.ts';
import { startServer } from '../serve/server.ts';
import type { CommandIo } from './io.ts';
import type { ServeCommandOptions } from '../cli/command-line.ts';

/** `airgap serve [DIR | images.tar.gz]`: runs until Ctrl-C (or SIGTERM), then stops gracefully. */
export async function serveCommand(source: string | undefined, options: ServeCommandOptions, io: CommandIo): Promise<void> {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (options.htpasswd === undefined && (options.anonymousPull || options.insecureAuth)) {
    throw new UsageError(`${options.anonymousPull ? '--anonymous-pull' : '--insecure-auth'} only means something with --htpasswd FILE`);
  }
  const reporter = reporterFor(serveReporters, io, options.json);
  await reporting(reporter, async () => {
    const server = await startServer({
      ...(source === undefined ? {} : { source }),
      listen: options.listen,
      ...(options.tlsCert === undefined || options.tlsKey === undefined ? {} : { tls: { certFile: options.tlsCert, keyFile: options.tlsKey } }),
      writable: options.writable,
      ...(options.store === undefined ? {} : { store: options.store }),
      ...(options.htpasswd === undefined ? {} : { auth: { htpasswdFile: options.htpasswd, anonymousPull: options.anonymousPull, insecure: options.insecureAuth } }),
      signal: io.signal,
      onEvent: (event) => reporter.onEvent(event),
    });
    reporter.onEvent({ type: 'serving', url: server.url, host: server.host, images: server.images, writable: options.writable, htpasswd: options.htpasswd, anonymousPull: options.anonymousPull, store: server.store });
    if (!io.signal.aborted) {
      await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    await server.close();
    reporter.onEvent({ type: 'stopped' });
  });
}
