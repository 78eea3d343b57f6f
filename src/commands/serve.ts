import { UsageError } from '../errors.ts';
import { formatBytes } from '../util/format-bytes.ts';
import type { ServeEvent } from '../serve/events.ts';
import { startServer } from '../serve/server.ts';
import { ERASE_LINE, printable } from '../util/printable.ts';
import type { CommandIo } from './io.ts';

export interface ServeCommandOptions {
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  writable: boolean;
  store?: string;
  htpasswd?: string;
  anonymousPull: boolean;
  insecureAuth: boolean;
}

/**
 * A request as one log line: time, client address, user (`-` when none authenticated, as in the common log
 * format), request, status, bytes, duration. Never a password or an Authorization value: neither is in the event.
 */
export function requestLine(event: Extract<ServeEvent, { type: 'request' }>): string {
  const bytes = event.bytesReceived > 0 ? `${event.bytesSent} ${event.bytesReceived}` : `${event.bytesSent}`;
  const user = event.user === undefined ? '-' : escapeForLog(event.user);
  return printable(`${event.time} ${event.remote} ${user} ${event.method} ${escapeForLog(event.path)} ${event.status} ${bytes} ${event.ms}ms${event.aborted ? ' aborted' : ''}${event.error === undefined ? '' : ` error: ${event.error}`}`);
}

/** A client-chosen string on a log line: spaces and control characters escaped, so it cannot fake a field or a line. */
function escapeForLog(text: string): string {
  return text.replace(/[\s\p{C}\\]/gu, (c) => (c === '\\' ? '\\\\' : `\\x${c.codePointAt(0)?.toString(16).padStart(2, '0') ?? ''}`));
}

/** `repo:tag` or `repo@digest`. */
function referenceText(event: { repository: string; reference: string }): string {
  return `${event.repository}${event.reference.includes(':') ? '@' : ':'}${event.reference}`;
}

interface Renderer {
  onEvent(event: ServeEvent): void;
  stop(): void;
}

/** Off a terminal (a service's log): one line per request and per push. */
function plainRenderer(io: CommandIo): Renderer {
  return {
    onEvent(event) {
      switch (event.type) {
        case 'request':
          io.stdout(`${requestLine(event)}\n`);
          break;
        case 'unpack-start':
          io.stdout(`${printable(`unpacking ${event.archive} into ${event.store} (each blob checked against its digest)`)}\n`);
          break;
        case 'pushed':
          io.stdout(`${printable(`pushed ${referenceText(event)} ${event.digest}`)}\n`);
          break;
        case 'deleted':
          io.stdout(`${printable(`deleted ${referenceText(event)}`)}\n`);
          break;
        case 'warning':
          io.stderr(`${printable(`warning: ${event.message}`)}\n`);
          break;
        default:
          break;
      }
    },
    stop() {},
  };
}

/** On a terminal: one status line kept up to date, and full lines only for what deserves attention. */
function terminalRenderer(io: CommandIo): Renderer {
  let status = '';
  let requests = 0;
  let sent = 0;
  let received = 0;
  let failures = 0;
  let unpacked = 0;
  let unpackedBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = (): void => {
    timer = undefined;
    io.stderr(`${ERASE_LINE}${status}`);
  };
  const update = (text: string): void => {
    status = text;
    timer ??= setTimeout(draw, 200);
  };
  const line = (text: string, toErr = false): void => {
    io.stderr(ERASE_LINE);
    if (toErr) io.stderr(`${printable(text)}\n`);
    else io.stdout(`${printable(text)}\n`);
    if (status !== '') io.stderr(status);
  };
  return {
    onEvent(event) {
      switch (event.type) {
        case 'unpack-blob':
          unpacked++;
          unpackedBytes += event.written ? event.size : 0;
          update(`unpacking: ${unpacked} blobs checked, ${formatBytes(unpackedBytes)} written`);
          break;
        case 'unpack-start':
          line(`unpacking ${event.archive} into ${event.store} (each blob checked against its digest)`);
          break;
        case 'ready':
          status = '';
          break;
        case 'request':
          requests++;
          sent += event.bytesSent;
          received += event.bytesReceived;
          if (event.status >= 500) {
            failures++;
            line(requestLine(event), true);
          }
          update(`${requests} requests, ${formatBytes(sent)} sent, ${formatBytes(received)} received${failures > 0 ? `, ${failures} failed` : ''} (Ctrl-C to stop)`);
          break;
        case 'pushed':
          line(`pushed ${referenceText(event)} ${event.digest}`);
          break;
        case 'deleted':
          line(`deleted ${referenceText(event)}`);
          break;
        case 'warning':
          line(`warning: ${event.message}`, true);
          break;
        default:
          break;
      }
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (status !== '') io.stderr(ERASE_LINE);
      status = '';
    },
  };
}

/** `airgap serve [DIR | images.tar.gz]`: runs until Ctrl-C (or SIGTERM), then stops gracefully. */
export async function serveCommand(source: string | undefined, options: ServeCommandOptions, io: CommandIo): Promise<void> {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (options.htpasswd === undefined && (options.anonymousPull || options.insecureAuth)) {
    throw new UsageError(`${options.anonymousPull ? '--anonymous-pull' : '--insecure-auth'} only means something with --htpasswd FILE`);
  }
  const renderer = io.isTty ? terminalRenderer(io) : plainRenderer(io);
  try {
    const server = await startServer({
      ...(source === undefined ? {} : { source }),
      listen: options.listen,
      ...(options.tlsCert === undefined || options.tlsKey === undefined ? {} : { tls: { certFile: options.tlsCert, keyFile: options.tlsKey } }),
      writable: options.writable,
      ...(options.store === undefined ? {} : { store: options.store }),
      ...(options.htpasswd === undefined ? {} : { auth: { htpasswdFile: options.htpasswd, anonymousPull: options.anonymousPull, insecure: options.insecureAuth } }),
      signal: io.signal,
      onEvent: (event) => {
        renderer.onEvent(event);
        if (event.type === 'unpack-done') {
          io.stdout(`unpacked ${event.images} images in ${event.seconds.toFixed(1)} s: ${event.written} blobs written (${formatBytes(event.writtenBytes)}), ${event.reused} already in the store${event.readWhole ? '' : ' (the store had every image: the rest of the archive was not read)'}\n`);
        }
      },
    });
    const mode = options.writable ? 'read-write' : 'read-only';
    const access = options.htpasswd === undefined ? 'no authentication' : `users of ${options.htpasswd}${options.anonymousPull ? ', anonymous pull' : ''}`;
    io.stdout(`Serving ${server.images} images at ${server.url} (${mode}, ${access}${server.store === undefined ? '' : `, store ${server.store}`})\n`);
    io.stdout(`  e.g. skopeo inspect ${server.url.startsWith('https') ? '' : '--tls-verify=false '}docker://${server.host}/NAME:TAG; Ctrl-C stops\n`);
    if (!io.signal.aborted) {
      await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    await server.close();
    renderer.stop();
    io.stdout('stopped: every request in flight was answered\n');
  } finally {
    renderer.stop();
  }
}
