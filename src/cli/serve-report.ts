/** How `airgap serve` reports: the unpack, where it serves, then a request log (or, on a terminal, a live status). */
import type { ServeEvent } from '../serve/events.ts';
import { formatBytes } from '../util/format-bytes.ts';
import { printable } from '../util/printable.ts';
import { Gate, runListr, settleAll, type Task, type TaskSpec } from './listr.ts';
import { linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';

/** The command's own events: the server is up (with what the operator needs to reach it), and it has stopped. */
export type ServeCommandEvent =
  | { type: 'serving'; url: string; host: string; images: number; writable: boolean; htpasswd: string | undefined; anonymousPull: boolean; store: string | undefined }
  | { type: 'stopped' };

export type ServeReport = ServeEvent | ServeCommandEvent;

/** What a terminal keeps in view of the pushes, deletes, failed requests and warnings. */
const RECENT_LINES = 10;

/** A client-chosen string on a log line: spaces and control characters escaped, so it cannot fake a field or a line. */
function escapeForLog(text: string): string {
  return text.replace(/[\s\p{C}\\]/gu, (c) => (c === '\\' ? '\\\\' : `\\x${c.codePointAt(0)?.toString(16).padStart(2, '0') ?? ''}`));
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

/** `repo:tag` or `repo@digest`. */
function referenceText(event: { repository: string; reference: string }): string {
  return `${event.repository}${event.reference.includes(':') ? '@' : ':'}${event.reference}`;
}

function unpackingLine(event: Extract<ServeEvent, { type: 'unpack-start' }>): string {
  return `unpacking ${event.archive} into ${event.store} (each blob checked against its digest)`;
}

function unpackedLine(event: Extract<ServeEvent, { type: 'unpack-done' }>): string {
  return `unpacked ${event.images} images in ${event.seconds.toFixed(1)} s: ${event.written} blobs written (${formatBytes(event.writtenBytes)}), ${event.reused} already in the store${event.readWhole ? '' : ' (the store had every image: the rest of the archive was not read)'}`;
}

function servingLines(event: Extract<ServeCommandEvent, { type: 'serving' }>): [string, string] {
  const mode = event.writable ? 'read-write' : 'read-only';
  const access = event.htpasswd === undefined ? 'no authentication' : `users of ${event.htpasswd}${event.anonymousPull ? ', anonymous pull' : ''}`;
  return [
    `Serving ${event.images} images at ${event.url} (${mode}, ${access}${event.store === undefined ? '' : `, store ${event.store}`})`,
    `  e.g. skopeo inspect ${event.url.startsWith('https') ? '' : '--tls-verify=false '}docker://${event.host}/NAME:TAG; Ctrl-C stops`,
  ];
}

const STOPPED_LINE = 'stopped: every request in flight was answered';

/** Off a terminal (a service's log): one line per request and per push. */
function plainServeReporter(lines: Lines): Reporter<ServeReport> {
  return {
    onEvent(event) {
      switch (event.type) {
        case 'request':
          lines.out(requestLine(event));
          break;
        case 'unpack-start':
          lines.out(unpackingLine(event));
          break;
        case 'unpack-done':
          lines.out(unpackedLine(event));
          break;
        case 'serving':
          for (const line of servingLines(event)) lines.out(line);
          break;
        case 'pushed':
          lines.out(`pushed ${referenceText(event)} ${event.digest}`);
          break;
        case 'deleted':
          lines.out(`deleted ${referenceText(event)}`);
          break;
        case 'warning':
          lines.warning(event.message);
          break;
        case 'stopped':
          lines.out(STOPPED_LINE);
          break;
        default:
          break;
      }
    },
    async finish() {},
  };
}

/**
 * On a terminal: listr2 tasks, the unpack (when there is one) and the server, whose output keeps in view
 * where it serves, the last pushes, deletes, failed requests and warnings, and a running count of requests
 * and bytes. Warnings and failed requests also go to stderr, as off a terminal.
 */
function ttyServeReporter(lines: Lines): Reporter<ServeReport> {
  const unpackGate = new Gate();
  const serveGate = new Gate();
  let unpackTask: Task | undefined;
  let serveTask: Task | undefined;
  let running: Promise<void> | undefined;
  let unpackTitle = 'Unpack';
  let serveTitle = 'Start the registry';
  let hint = '';
  const recent: string[] = [];
  let requests = 0;
  let sent = 0;
  let received = 0;
  let failures = 0;
  let unpacked = 0;
  let unpackedBytes = 0;
  let stopped = false;

  const showServe = (): void => {
    if (serveTask === undefined) return;
    serveTask.title = serveTitle;
    const status = `${requests} requests, ${formatBytes(sent)} sent, ${formatBytes(received)} received${failures > 0 ? `, ${failures} failed` : ''}`;
    serveTask.output = [hint, ...recent, stopped ? status : `${status} (Ctrl-C to stop)`].filter((l) => l !== '').join('\n');
  };
  const notable = (line: string): void => {
    recent.push(printable(line));
    if (recent.length > RECENT_LINES) recent.shift();
    showServe();
  };
  const serveSpec: TaskSpec = {
    title: serveTitle,
    task: async (_ctx, task) => {
      serveTask = task;
      showServe();
      await serveGate.promise;
      showServe();
    },
    rendererOptions: { persistentOutput: true },
  };
  const start = (withUnpack: boolean): void => {
    if (running !== undefined) return;
    const unpackSpec: TaskSpec = {
      title: unpackTitle,
      task: async (_ctx, task) => {
        unpackTask = task;
        task.title = unpackTitle;
        await unpackGate.promise;
        task.title = unpackTitle;
      },
    };
    running = runListr(withUnpack ? [unpackSpec, serveSpec] : [serveSpec], { exitOnError: true });
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case 'unpack-start':
          unpackTitle = printable(unpackingLine(event));
          start(true);
          if (unpackTask !== undefined) unpackTask.title = unpackTitle;
          break;
        case 'unpack-blob':
          unpacked++;
          unpackedBytes += event.written ? event.size : 0;
          if (unpackTask !== undefined) unpackTask.output = `${unpacked} blobs checked, ${formatBytes(unpackedBytes)} written`;
          break;
        case 'unpack-done':
          unpackTitle = printable(unpackedLine(event));
          unpackGate.resolve();
          break;
        case 'serving': {
          const [title, example] = servingLines(event);
          serveTitle = printable(title);
          hint = printable(example.trim());
          start(false);
          unpackGate.resolve();
          showServe();
          break;
        }
        case 'request':
          requests++;
          sent += event.bytesSent;
          received += event.bytesReceived;
          if (event.status >= 500) {
            failures++;
            notable(requestLine(event));
          }
          showServe();
          break;
        case 'pushed':
          notable(`pushed ${referenceText(event)} ${event.digest}`);
          break;
        case 'deleted':
          notable(`deleted ${referenceText(event)}`);
          break;
        case 'warning':
          notable(`warning: ${event.message}`);
          lines.warning(event.message);
          break;
        case 'stopped':
          stopped = true;
          showServe();
          break;
        default:
          break;
      }
    },
    async finish(err?: unknown) {
      settleAll([unpackGate, serveGate], err);
      await running;
      if (stopped) lines.out(STOPPED_LINE);
    },
  };
}

/** For machines: one JSON object per line, as the library reports it (the per-blob unpack steps left out). */
function jsonServeReporter(io: { stdout: (text: string) => void }): Reporter<ServeReport> {
  return {
    onEvent(event) {
      if (event.type !== 'unpack-blob') io.stdout(`${JSON.stringify(event)}\n`);
    },
    async finish() {},
  };
}

export const serveReporters: ReporterForms<ServeReport> = {
  tty: (io) => ttyServeReporter(linesOf(io)),
  plain: (io) => plainServeReporter(linesOf(io)),
  json: (io) => jsonServeReporter(io),
};
