/**
 * The local Docker Engine, through dockerode: connect, and follow the JSON progress streams its load and
 * push endpoints answer with. The --via docker path of `airgap load` is built on this.
 */
import type Dockerode from 'dockerode';
import { AirgapError, messageOf } from './errors.ts';

/** Where the docker CLI looks when DOCKER_HOST is not set (we ignore docker contexts, as dockerode does). */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export interface Daemon {
  docker: Dockerode;
  /** The address connected to, as DOCKER_HOST spells it. */
  host: string;
  version: string;
  apiVersion: string;
}

/** One line of a load, pull or push stream. Only the fields we read. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  stream?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { Tag?: string; Digest?: string; Size?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

/** The daemon answered the stream with an error line: the operation failed, whatever the HTTP status said. */
export class DaemonStreamError extends AirgapError {}

function describeHost(host: string, fromEnv: boolean): string {
  return fromEnv ? `DOCKER_HOST=${host}` : '(DOCKER_HOST is not set)';
}

/**
 * Connects to the daemon DOCKER_HOST names (a unix:// socket, or what docker-modem makes of tcp:// and
 * ssh:// with DOCKER_CERT_PATH and DOCKER_TLS_VERIFY), else /var/run/docker.sock, and asks its version, so
 * an unreachable daemon is one clear error before anything else happens.
 */
export async function connectDaemon(env: NodeJS.ProcessEnv = process.env): Promise<Daemon> {
  const fromEnv = env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== '';
  const host = fromEnv ? (env.DOCKER_HOST as string) : DEFAULT_DOCKER_HOST;
  // Loaded here, not at the top: dockerode brings gRPC and protobuf along, which only this path needs.
  const { default: Docker } = await import('dockerode');
  let docker: Dockerode;
  try {
    // A unix socket is given explicitly so `env` decides it; anything else docker-modem reads from process.env.
    docker = host.startsWith('unix://') ? new Docker({ socketPath: host.slice('unix://'.length) || '/var/run/docker.sock' }) : new Docker();
  } catch (err: unknown) {
    throw new AirgapError(`cannot use DOCKER_HOST=${host}: ${messageOf(err)}`, { cause: err, hint: 'set DOCKER_HOST to unix:///PATH/docker.sock or tcp://HOST:PORT' });
  }
  try {
    const version = await docker.version();
    return { docker, host, version: version.Version, apiVersion: version.ApiVersion };
  } catch (err: unknown) {
    const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
    const why = typeof code === 'string' ? code : messageOf(err);
    throw new AirgapError(`cannot reach the Docker daemon at ${host} (${why}): is dockerd running? ${describeHost(host, fromEnv)}`, {
      cause: err,
      hint: code === 'EACCES' ? 'run as root or as a member of the docker group' : 'start dockerd, or point DOCKER_HOST at its socket',
    });
  }
}

function parseLine(line: string): ProgressMessage {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null) return parsed as ProgressMessage;
  } catch {
    // A line that is not JSON is passed on as text: the daemon's meaning is still worth showing.
  }
  return { stream: line };
}

/**
 * Reads a progress stream to its end, handing each message to `onMessage`. The daemon reports failure
 * as an `error` line inside a 200 answer, so the stream is followed to the end and the first such line is
 * thrown as a DaemonStreamError (message only; the caller adds which image and what to do).
 */
export async function followProgress(stream: NodeJS.ReadableStream, onMessage: (message: ProgressMessage) => void = () => {}): Promise<ProgressMessage[]> {
  const messages: ProgressMessage[] = [];
  let failure: string | undefined;
  let pending = '';
  const take = (line: string): void => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    const message = parseLine(trimmed);
    messages.push(message);
    if (message.error !== undefined || message.errorDetail !== undefined) {
      failure ??= message.errorDetail?.message ?? message.error ?? 'unknown error';
      return;
    }
    onMessage(message);
  };
  try {
    for await (const chunk of stream) {
      pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        take(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    }
  } catch (err: unknown) {
    throw new AirgapError(`the connection to the Docker daemon broke: ${messageOf(err)}`, { cause: err });
  }
  take(pending);
  if (failure !== undefined) throw new DaemonStreamError(failure.trim());
  return messages;
}

/** The message of an error dockerode rejected with: the daemon's JSON `message` when it sent one. */
export function daemonErrorMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const json = (err as { json?: unknown }).json;
    if (typeof json === 'object' && json !== null) {
      const message = (json as { message?: unknown }).message;
      if (typeof message === 'string') return message.trim();
    }
  }
  return messageOf(err).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim();
}
