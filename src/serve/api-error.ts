/**
 * The distribution spec's error answers: an HTTP status and a JSON body `{"errors":[{code,message,detail}]}`.
 * Handlers throw these; the router turns them into the response. They never leave the server.
 */

/**
 * The spec's error codes, and only those: a 4xx answer's JSON must use one of them (clients switch on them).
 * `UNKNOWN` (distribution's) is for 5xx answers only, which the spec leaves free.
 */
export type ApiErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNKNOWN';

// The spec's descriptions, so clients that show them read the same as with any other registry.
const MESSAGES: Record<ApiErrorCode, string> = {
  BLOB_UNKNOWN: 'blob unknown to registry',
  BLOB_UPLOAD_INVALID: 'blob upload invalid',
  BLOB_UPLOAD_UNKNOWN: 'blob upload unknown to registry',
  DIGEST_INVALID: 'provided digest did not match uploaded content',
  MANIFEST_BLOB_UNKNOWN: 'manifest references a manifest or blob unknown to registry',
  MANIFEST_INVALID: 'manifest invalid',
  MANIFEST_UNKNOWN: 'manifest unknown to registry',
  NAME_INVALID: 'invalid repository name',
  NAME_UNKNOWN: 'repository name not known to registry',
  SIZE_INVALID: 'provided length did not match content length',
  UNAUTHORIZED: 'authentication required',
  DENIED: 'requested access to the resource is denied',
  UNSUPPORTED: 'the operation is unsupported',
  TOOMANYREQUESTS: 'too many requests',
  UNKNOWN: 'unknown error',
};

export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly detail: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, code: ApiErrorCode, detail: unknown = {}, options: { message?: string; headers?: Record<string, string> } = {}) {
    super(options.message ?? MESSAGES[code]);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.headers = options.headers ?? {};
  }

  body(): string {
    return JSON.stringify({ errors: [{ code: this.code, message: this.message, detail: this.detail }] });
  }
}

export const blobUnknown = (digest: string): ApiError => new ApiError(404, 'BLOB_UNKNOWN', { digest });
export const manifestUnknown = (reference: string): ApiError =>
  new ApiError(404, 'MANIFEST_UNKNOWN', reference.includes(':') ? { digest: reference } : { tag: reference });
export const nameInvalid = (name: string): ApiError => new ApiError(400, 'NAME_INVALID', { name });
export const nameUnknown = (name: string): ApiError => new ApiError(404, 'NAME_UNKNOWN', { name });
export const uploadUnknown = (uuid: string): ApiError => new ApiError(404, 'BLOB_UPLOAD_UNKNOWN', { uuid });
export const digestInvalid = (detail: unknown, message?: string): ApiError =>
  new ApiError(400, 'DIGEST_INVALID', detail, message === undefined ? {} : { message });
export const readOnly = (allow: string): ApiError =>
  new ApiError(405, 'UNSUPPORTED', {}, { message: 'this registry is read-only: start airgap serve with --writable to push or delete', headers: { Allow: allow } });
