/**
 * Who may do what (with `--htpasswd`). The registry answers an unauthenticated request with 401 and a
 * `WWW-Authenticate: Bearer` challenge pointing at its own token endpoint (`/auth/token`), as distribution's
 * token auth does: that is the one challenge docker, skopeo, containerd, the conformance suite and our own
 * client all answer both with credentials and without. Docker in particular cannot pull anonymously from a Basic
 * challenge ("no basic auth credentials"), and sends credentials on a push only if /v2/ challenged it: a bearer
 * challenge with anonymous tokens is how `--anonymous-pull` works for it.
 *
 * The token endpoint takes the user's password by HTTP basic auth and gives a short-lived signed token (pull and
 * push); with `--anonymous-pull` a caller without credentials gets a pull-only token. Basic credentials sent
 * straight to any endpoint are accepted too (curl -u). Credentials that are given are always checked: a wrong
 * password is a 401, never a quiet fall back to anonymous.
 */
import { ApiError } from './api-error.ts';
import type { Exchange, ServeContext } from './context.ts';
import type { GuessLimiter } from './guess-limit.ts';
import { header, sendJson } from './http.ts';
import type { Htpasswd } from './htpasswd.ts';
import { TOKEN_LIFETIME_S, type TokenSigner } from './tokens.ts';

/** login: `/v2/`; pull: reading; push: changing the registry. */
export type Access = 'login' | 'pull' | 'push';

export interface AuthPolicy {
  users: Htpasswd;
  anonymousPull: boolean;
  tokens: TokenSigner;
  /** Wrong passwords counted per client address (guess-limit.ts). */
  guesses: GuessLimiter;
}

export const TOKEN_PATH = '/auth/token';
const SERVICE = 'airgap-serve';
const REALM = 'airgap serve';

function bearerChallenge(x: Exchange, scope: string | undefined, why: string): ApiError {
  const params = [`realm="${x.baseUrl}${TOKEN_PATH}"`, `service="${SERVICE}"`, ...(scope === undefined ? [] : [`scope="${scope}"`])];
  return new ApiError(401, 'UNAUTHORIZED', {}, { message: why, headers: { 'WWW-Authenticate': `Bearer ${params.join(',')}` } });
}

function basicChallenge(why: string): ApiError {
  return new ApiError(401, 'UNAUTHORIZED', {}, { message: why, headers: { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` } });
}

type Presented = { kind: 'none' } | { kind: 'basic'; user: string; password: string } | { kind: 'bearer'; token: string } | { kind: 'other' };

/** What the Authorization header holds. Basic with an empty user (`Og==`, what clients send with no login) is none. */
function presented(x: Exchange): Presented {
  const value = header(x.req, 'authorization');
  if (value === undefined || value.trim() === '') return { kind: 'none' };
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (bearer?.[1] !== undefined) return { kind: 'bearer', token: bearer[1] };
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
  if (basic?.[1] === undefined) return { kind: 'other' };
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'other' };
  const user = decoded.slice(0, colon);
  return user === '' ? { kind: 'none' } : { kind: 'basic', user, password: decoded.slice(colon + 1) };
}

function tooManyGuesses(seconds: number, why: string): ApiError {
  return new ApiError(429, 'TOOMANYREQUESTS', {}, { message: `${why}: try again in ${seconds} s`, headers: { 'Retry-After': String(seconds) } });
}

/**
 * Check a user name and password, within the address's guess limit: a locked-out address is answered 429
 * before any bcrypt check, and the wrong password that locks it out says so. Returns whether they are right.
 */
async function passwordAccepted(ctx: ServeContext, policy: AuthPolicy, x: Exchange, user: string, password: string): Promise<boolean> {
  const address = x.req.socket?.remoteAddress ?? '-';
  const why = `too many wrong passwords from ${address}`;
  const wait = policy.guesses.retryAfterSeconds(address);
  if (wait > 0) throw tooManyGuesses(wait, why);
  if (await policy.users.verify(user, password)) {
    policy.guesses.succeeded(address);
    return true;
  }
  const locked = policy.guesses.failed(address);
  if (locked === 0) return false;
  ctx.emit({ type: 'warning', message: `${address} is locked out for ${locked} s after too many wrong passwords (the last for user ${JSON.stringify(user)})` });
  throw tooManyGuesses(locked, why);
}

/**
 * Let the request through (setting `x.user` when it authenticated), or throw the 401 that says how to.
 * `scope` names the repository for the challenge (`repository:NAME:pull,push`), as docker expects.
 */
export async function authorize(ctx: ServeContext, x: Exchange, access: Access, name?: string): Promise<void> {
  const policy = ctx.auth;
  if (policy === undefined) return;
  const actions = access === 'push' ? 'pull,push' : 'pull';
  const scope = name === undefined ? undefined : `repository:${name}:${actions}`;
  const given = presented(x);
  if (given.kind === 'none') {
    // /v2/ always challenges a caller with nothing: docker and skopeo learn only there how to authenticate.
    if (access === 'pull' && policy.anonymousPull) return;
    throw bearerChallenge(x, scope, access === 'push' ? 'authentication required to push or delete' : 'authentication required');
  }
  if (given.kind === 'other') throw bearerChallenge(x, scope, 'only bearer tokens and HTTP basic authentication are accepted here');
  let user: string;
  let mayPush: boolean;
  if (given.kind === 'basic') {
    if (!(await passwordAccepted(ctx, policy, x, given.user, given.password))) throw bearerChallenge(x, scope, 'the user name or password is wrong');
    user = given.user;
    mayPush = true;
  } else {
    const claims = policy.tokens.verify(given.token);
    if (claims === undefined) throw bearerChallenge(x, scope, 'the token is not valid here, or has expired: ask for a new one');
    user = claims.sub;
    mayPush = claims.push;
  }
  if (user !== '') x.user = user;
  // An anonymous token (only issued with --anonymous-pull) reads, and passes /v2/.
  if (access !== 'push' || mayPush) return;
  throw bearerChallenge(x, scope, 'authentication required to push or delete');
}

/**
 * GET /auth/token?service=…&scope=…: a token for the user of the basic credentials (pull and push), or, with
 * --anonymous-pull and no credentials, a pull-only one. Without either, 401 with a Basic challenge.
 */
export async function issueToken(ctx: ServeContext, x: Exchange): Promise<void> {
  const policy = ctx.auth;
  if (policy === undefined) throw new ApiError(404, 'UNSUPPORTED', {}, { message: 'this registry asks for no authentication: it issues no tokens' });
  const verb = x.req.method ?? 'GET';
  // containerd tries an OAuth2 POST first and falls back to GET on 405.
  if (verb !== 'GET') throw new ApiError(405, 'UNSUPPORTED', {}, { message: 'tokens are issued on GET with HTTP basic authentication', headers: { Allow: 'GET' } });
  const given = presented(x);
  let token: string;
  if (given.kind === 'basic') {
    if (!(await passwordAccepted(ctx, policy, x, given.user, given.password))) throw basicChallenge('the user name or password is wrong');
    x.user = given.user;
    token = policy.tokens.issue(given.user, true);
  } else if (given.kind === 'none' && policy.anonymousPull) {
    token = policy.tokens.issue('', false);
  } else {
    throw basicChallenge('authentication required: give a user name and password');
  }
  sendJson(x.res, 200, { token, access_token: token, expires_in: TOKEN_LIFETIME_S, issued_at: new Date().toISOString() }, { 'Cache-Control': 'no-store' });
}
