/**
 * Who may do what (with `--htpasswd`): HTTP basic authentication against the htpasswd users, every request on
 * its own. Without credentials a request gets 401 with a `WWW-Authenticate: Basic` challenge, which docker,
 * skopeo, containerd, the conformance suite and our own client all answer; with `--anonymous-pull`, reads need
 * no user. `/v2/` always asks an anonymous caller: docker and skopeo learn from that answer alone whether to send
 * credentials later (a 200 there and a push would never be authenticated), while their pulls go on without.
 * Credentials that are given are always checked, also where none are needed: a wrong password is a 401, never a
 * quiet fall back to anonymous.
 */
import { ApiError } from './api-error.ts';
import type { Exchange, ServeContext } from './context.ts';
import { header } from './http.ts';
import type { Htpasswd } from './htpasswd.ts';

/** login: `/v2/`; pull: reading; push: changing the registry. */
export type Access = 'login' | 'pull' | 'push';

export interface AuthPolicy {
  users: Htpasswd;
  anonymousPull: boolean;
}

const REALM = 'airgap serve';

function challenge(why: string): ApiError {
  return new ApiError(401, 'UNAUTHORIZED', {}, { message: why, headers: { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` } });
}

/** `Basic base64(user:password)`, or undefined when the header is something else. */
function basicCredentials(value: string): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Let the request through (setting `x.user` when it authenticated), or throw the 401 that asks for a user. */
export async function authorize(ctx: ServeContext, x: Exchange, access: Access): Promise<void> {
  const policy = ctx.auth;
  if (policy === undefined) return;
  const given = header(x.req, 'authorization');
  if (given === undefined) {
    if (access === 'pull' && policy.anonymousPull) return;
    throw challenge(access === 'push' ? 'authentication required to push or delete' : 'authentication required');
  }
  const credentials = basicCredentials(given);
  if (credentials === undefined) throw challenge('only HTTP basic authentication is accepted here');
  if (!(await policy.users.verify(credentials.user, credentials.password))) throw challenge('the user name or password is wrong');
  x.user = credentials.user;
}
