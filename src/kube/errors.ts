/**
 * What a failed Kubernetes API call means for the operator. client-node throws an ApiException whose
 * message holds the whole response (headers included), or undici's bare "fetch failed" with the reason
 * somewhere in its cause chain: neither is a line to show.
 */
import { AirgapError, type AirgapErrorOptions } from '../errors.ts';
import { UNTRUSTED_CERT_CODES } from '../store/registry/tls.ts';
import { errorChain } from '../util/error-chain.ts';

export class KubeError extends AirgapError {
  /** The HTTP status the API server answered, when it answered. */
  readonly status: number | undefined;
  /** The Status reason (NotFound, Forbidden, Invalid, AlreadyExists...) when it gave one. */
  readonly reason: string | undefined;
  constructor(message: string, options: AirgapErrorOptions & { status?: number; reason?: string } = {}) {
    super(message, options);
    this.status = options.status;
    this.reason = options.reason;
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

interface StatusBody {
  message?: unknown;
  reason?: unknown;
  code?: unknown;
}

function statusBody(body: unknown): StatusBody | undefined {
  if (typeof body === 'string') {
    try {
      return statusBody(JSON.parse(body));
    } catch {
      return body.trim() === '' ? undefined : { message: body.trim().slice(0, 300) };
    }
  }
  return typeof body === 'object' && body !== null ? (body as StatusBody) : undefined;
}

/** The HTTP status of a client-node ApiException (or a Watch failure), if `err` is one. */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const fields = err as { code?: unknown; statusCode?: unknown; body?: unknown };
  if (typeof fields.statusCode === 'number') return fields.statusCode;
  // ApiException keeps the status in `code` (a number); Node errors keep a string there.
  if (typeof fields.code === 'number' && 'body' in fields) return fields.code;
  return undefined;
}

/**
 * A KubeError for `err`, a failure of `what` (e.g. `apply Deployment default/web`) against `server`.
 * An error that is already one is returned as it is.
 */
export function kubeError(err: unknown, what: string, server: string): AirgapError {
  if (err instanceof AirgapError) return err;
  const status = httpStatusOf(err);
  if (status !== undefined) {
    const body = statusBody((err as { body?: unknown }).body);
    const reason = typeof body?.reason === 'string' ? body.reason : undefined;
    const said = typeof body?.message === 'string' ? body.message : undefined;
    const message = `${what}: the Kubernetes API answered ${status}${reason === undefined ? '' : ` ${reason}`}${said === undefined ? '' : `: ${said}`}`;
    const hint =
      status === 401 ? 'the credentials of the kubeconfig were refused: refresh them (an expired token?) and check with `kubectl get ns`'
      : status === 403 ? 'the kubeconfig user lacks that permission: ask for a role that allows it, or use another --context'
      : status === 404 && /namespaces? "[^"]+" not found/.test(said ?? '') ? 'create the namespace first (kubectl create namespace NAME), or add a Namespace object to the manifests'
      : status === 422 || reason === 'Invalid' ? 'fix the object in the manifest: the API server says what is wrong with it'
      : undefined;
    return new KubeError(message, { cause: err, status, ...(reason === undefined ? {} : { reason }), ...(hint === undefined ? {} : { hint }) });
  }
  const links = errorChain(err);
  for (const link of links) {
    if (link.code !== undefined && UNTRUSTED_CERT_CODES.has(link.code)) {
      return new KubeError(`${what}: the TLS certificate of the Kubernetes API at ${server} is not trusted (${link.code})`, {
        cause: err,
        hint: 'set certificate-authority or certificate-authority-data of the cluster in the kubeconfig to the CA that signed the API server',
      });
    }
    if (link.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new KubeError(`${what}: the TLS certificate of the Kubernetes API is not issued for ${server} (${link.code})`, {
        cause: err,
        hint: 'use the server address the certificate names, or set tls-server-name in the kubeconfig',
      });
    }
    if (link.code !== undefined && UNREACHABLE.has(link.code)) {
      return new KubeError(`${what}: cannot reach the Kubernetes API at ${server} (${link.code})`, {
        cause: err,
        hint: 'check that the cluster is up and that the server of the kubeconfig context is reachable from here',
      });
    }
  }
  const detail = links.map((l) => l.message).filter((m) => m !== '' && m !== 'fetch failed').at(-1) ?? links[0]?.message ?? String(err);
  return new KubeError(`${what}: ${detail.split('\n')[0] ?? detail}`, { cause: err });
}
