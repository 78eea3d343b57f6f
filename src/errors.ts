/**
 * Typed errors of the library. The library never prints or exits: it throws these, and the CLI turns
 * them into one line for the operator (message, then `hint` as what to do) and an exit code.
 */

export interface AirgapErrorOptions {
  cause?: unknown;
  /** What the operator should do about it, in one sentence. */
  hint?: string;
}

export class AirgapError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, options: AirgapErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** Wrong flags or arguments: exit code 2. */
export class UsageError extends AirgapError {}

/** A string that is not an image reference by the distribution/reference grammar. */
export class InvalidReferenceError extends AirgapError {}

/** A release file (airgap.yaml, bundle, manifest, image list) that cannot be read or is wrong. */
export class ReleaseFileError extends AirgapError {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(file: string, message: string, options: AirgapErrorOptions & { line?: number; column?: number } = {}) {
    const where = options.line === undefined ? file : `${file}:${options.line}${options.column === undefined ? '' : `:${options.column}`}`;
    super(`${where}: ${message}`, options);
    this.file = file;
    this.line = options.line;
    this.column = options.column;
  }
}

/** A registry answered with an error, or could not be reached. */
export class RegistryError extends AirgapError {
  readonly status: number | undefined;
  /** The distribution spec error code (MANIFEST_UNKNOWN, BLOB_UNKNOWN, ...) when the registry gave one. */
  readonly code: string | undefined;
  constructor(message: string, options: AirgapErrorOptions & { status?: number; code?: string } = {}) {
    super(message, options);
    this.status = options.status;
    this.code = options.code;
  }
}

/** The registry does not have the manifest, tag or blob asked for. */
export class NotFoundError extends RegistryError {}

/** The registry's storage is full: retrying will not help until someone frees space there. */
export class StorageFullError extends RegistryError {}

/** Credentials missing or refused. */
export class AuthenticationError extends RegistryError {}

/** The TLS certificate of a registry is not trusted, or TLS was spoken to a plain-HTTP server (and back). */
export class TlsError extends RegistryError {}

/** Bytes whose sha256 (or size) is not what their descriptor says. */
export class DigestMismatchError extends AirgapError {
  readonly expected: string;
  readonly actual: string;
  constructor(message: string, expected: string, actual: string, options: AirgapErrorOptions = {}) {
    super(message, options);
    this.expected = expected;
    this.actual = actual;
  }
}

/** An archive (images.tar.gz, charms.tar.gz) that is truncated, corrupt or not ours. */
export class ArchiveError extends AirgapError {}

/** The operation was cancelled (Ctrl-C): files under temporary names have been removed. */
export class CancelledError extends AirgapError {}

/** Render an unknown thrown value as a short message, for wrapping. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
