import { describe, expect, it } from 'vitest';
import { AuthenticationError, RegistryError } from '../../../src/errors.ts';
import type { AuthChallenge } from '../../../src/store/registry/challenge.ts';
import { basicAuthorization, parseTokenResponse, TokenAuthenticator } from '../../../src/store/registry/token.ts';
import type { HttpRequest } from '../../../src/store/registry/token.ts';

interface Call {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/**
 * The request function the authenticator is given, answering from `answer` and recording each call:
 * the authenticator's input and output are then plain values to check.
 */
function recorder(answer: (call: Call) => { status: number; body: string }): { request: HttpRequest; calls: Call[] } {
  const calls: Call[] = [];
  const request: HttpRequest = async (url, init) => {
    const call: Call = { url: new URL(url), method: init.method, headers: init.headers, body: init.body };
    calls.push(call);
    const { status, body } = answer(call);
    return { status, headers: {}, text: async () => body };
  };
  return { request, calls };
}

const hub: AuthChallenge = {
  scheme: 'bearer',
  params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull' },
};

describe('parseTokenResponse', () => {
  it.each([
    ['token and expires_in', '{"token":"t1","expires_in":300}', { token: 't1', lifetimeSeconds: 300 }],
    ['access_token only', '{"access_token":"t2","expires_in":3600}', { token: 't2', lifetimeSeconds: 3600 }],
    ['both: token wins', '{"token":"t3","access_token":"t4"}', { token: 't3', lifetimeSeconds: 60 }],
    ['empty token falls back to access_token', '{"token":"","access_token":"t5"}', { token: 't5', lifetimeSeconds: 60 }],
    ['no expires_in: 60 seconds', '{"token":"t6"}', { token: 't6', lifetimeSeconds: 60 }],
    ['expires_in below the minimum: 60 seconds', '{"token":"t7","expires_in":5}', { token: 't7', lifetimeSeconds: 60 }],
    ['expires_in as a string', '{"token":"t8","expires_in":"120"}', { token: 't8', lifetimeSeconds: 120 }],
    ['expires_in not a number', '{"token":"t9","expires_in":"soon"}', { token: 't9', lifetimeSeconds: 60 }],
  ])('%s', (_name, body, expected) => {
    expect(parseTokenResponse(body, 'https://auth.example/token', 'reg.example')).toEqual(expected);
  });

  it.each([
    ['not JSON', '<html>proxy login</html>', 'not JSON'],
    ['no token', '{"expires_in":300}', 'without a token'],
    ['JSON but not an object', '"t"', 'without a token'],
  ])('%s is a RegistryError', (_name, body, says) => {
    expect(() => parseTokenResponse(body, 'https://auth.example/token', 'reg.example')).toThrow(RegistryError);
    expect(() => parseTokenResponse(body, 'https://auth.example/token', 'reg.example')).toThrow(says);
  });
});

describe('TokenAuthenticator.authorization', () => {
  it('fetches an anonymous token with service and every scope', async () => {
    const { request, calls } = recorder(() => ({ status: 200, body: '{"token":"anon-token","expires_in":300}' }));
    const auth = new TokenAuthenticator(request);
    const value = await auth.authorization([hub], ['repository:library/ubuntu:pull', 'repository:library/debian:pull'], undefined);
    expect(value).toBe('Bearer anon-token');
    expect(calls).toHaveLength(1);
    const call = calls[0];
    expect(call?.method).toBe('GET');
    expect(`${call?.url.origin}${call?.url.pathname}`).toBe('https://auth.docker.io/token');
    expect(call?.url.searchParams.get('service')).toBe('registry.docker.io');
    expect(call?.url.searchParams.getAll('scope')).toEqual(['repository:library/ubuntu:pull', 'repository:library/debian:pull']);
    expect(call?.headers.authorization).toBeUndefined();
  });

  it('adds the scope named by the challenge to the ones asked for', async () => {
    const { request, calls } = recorder(() => ({ status: 200, body: '{"token":"t"}' }));
    const challenge: AuthChallenge = { scheme: 'bearer', params: { ...hub.params, scope: 'repository:a/b:pull,push', error: 'insufficient_scope' } };
    await new TokenAuthenticator(request).authorization([challenge], ['repository:a/b:pull'], undefined);
    expect(calls[0]?.url.searchParams.getAll('scope')).toEqual(['repository:a/b:pull', 'repository:a/b:pull,push']);
  });

  it('keeps query parameters already in the realm', async () => {
    const { request, calls } = recorder(() => ({ status: 200, body: '{"token":"t"}' }));
    const challenge: AuthChallenge = { scheme: 'bearer', params: { realm: 'https://auth.example/token?tenant=x', service: 's' } };
    await new TokenAuthenticator(request).authorization([challenge], [], undefined);
    expect(calls[0]?.url.searchParams.get('tenant')).toBe('x');
    expect(calls[0]?.url.searchParams.get('service')).toBe('s');
  });

  it('sends Basic auth and the account with a username and password', async () => {
    const { request, calls } = recorder(() => ({ status: 200, body: '{"access_token":"user-token"}' }));
    const value = await new TokenAuthenticator(request).authorization([hub], [], { username: 'alice', password: 'wonder' });
    expect(value).toBe('Bearer user-token');
    expect(calls[0]?.headers.authorization).toBe(`Basic ${Buffer.from('alice:wonder').toString('base64')}`);
    expect(calls[0]?.url.searchParams.get('account')).toBe('alice');
  });

  it('exchanges an identity token by POSTing the OAuth2 refresh_token form', async () => {
    const { request, calls } = recorder(() => ({ status: 200, body: '{"access_token":"oauth-token","expires_in":900}' }));
    const value = await new TokenAuthenticator(request).authorization([hub], ['repository:library/ubuntu:pull'], { identityToken: 'refresh-me' });
    expect(value).toBe('Bearer oauth-token');
    const call = calls[0];
    expect(call?.method).toBe('POST');
    expect(call?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call?.headers.authorization).toBeUndefined();
    const form = new URLSearchParams(call?.body ?? '');
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'refresh-me',
      client_id: 'airgap',
      service: 'registry.docker.io',
      scope: 'repository:library/ubuntu:pull',
    });
  });

  it.each([
    ['basic challenge with a password', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }], { username: 'u', password: 'p' }, basicAuthorization('u', 'p')],
    ['basic challenge without credentials', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }], undefined, undefined],
    ['basic challenge with only an identity token', [{ scheme: 'basic', params: {} }], { identityToken: 't' }, undefined],
    ['unknown scheme', [{ scheme: 'negotiate', params: {}, token68: 'abc' }], { username: 'u', password: 'p' }, undefined],
    ['no challenge', [], { username: 'u', password: 'p' }, undefined],
  ] as Array<[string, AuthChallenge[], { username: string; password: string } | { identityToken: string } | undefined, string | undefined]>)(
    '%s',
    async (_name, challenges, credentials, expected) => {
      const { request, calls } = recorder(() => ({ status: 500, body: '' }));
      expect(await new TokenAuthenticator(request).authorization(challenges, [], credentials)).toBe(expected);
      expect(calls).toHaveLength(0);
    },
  );

  it('prefers the bearer challenge when both are offered', async () => {
    const { request } = recorder(() => ({ status: 200, body: '{"token":"b"}' }));
    const value = await new TokenAuthenticator(request).authorization([{ scheme: 'basic', params: {} }, hub], [], { username: 'u', password: 'p' });
    expect(value).toBe('Bearer b');
  });
});

describe('TokenAuthenticator cache', () => {
  it('reuses a token until it expires, then fetches a new one', async () => {
    let n = 0;
    const { request, calls } = recorder(() => ({ status: 200, body: JSON.stringify({ token: `tok-${++n}`, expires_in: 300 }) }));
    let now = 1_000_000;
    const auth = new TokenAuthenticator(request, { now: () => now });
    const scope = ['repository:library/ubuntu:pull'];
    expect(await auth.authorization([hub], scope, undefined)).toBe('Bearer tok-1');
    now += 200_000;
    expect(await auth.authorization([hub], scope, undefined)).toBe('Bearer tok-1');
    now += 100_000; // 300 s after: expired (and already within the safety margin before)
    expect(await auth.authorization([hub], scope, undefined)).toBe('Bearer tok-2');
    expect(calls).toHaveLength(2);
  });

  it('keys the cache by realm, service, scopes (in any order) and identity', async () => {
    let n = 0;
    const { request, calls } = recorder(() => ({ status: 200, body: JSON.stringify({ token: `tok-${++n}`, expires_in: 300 }) }));
    const auth = new TokenAuthenticator(request);
    const bare: AuthChallenge = { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' } };
    const a = await auth.authorization([bare], ['repository:x:pull', 'repository:y:pull'], undefined);
    expect(await auth.authorization([bare], ['repository:y:pull', 'repository:x:pull'], undefined)).toBe(a);
    expect(await auth.authorization([bare], ['repository:x:pull'], undefined)).not.toBe(a);
    expect(await auth.authorization([bare], ['repository:x:pull'], { username: 'u', password: 'p' })).not.toBe(a);
    const other: AuthChallenge = { scheme: 'bearer', params: { ...bare.params, service: 'other' } };
    expect(await auth.authorization([other], ['repository:x:pull', 'repository:y:pull'], undefined)).not.toBe(a);
    expect(calls).toHaveLength(4);
  });

  it('shares one request among concurrent asks for the same token', async () => {
    const { request, calls } = recorder(() => ({ status: 200, body: '{"token":"shared","expires_in":300}' }));
    const auth = new TokenAuthenticator(request);
    const values = await Promise.all(Array.from({ length: 8 }, () => auth.authorization([hub], ['repository:library/ubuntu:pull'], undefined)));
    expect(new Set(values)).toEqual(new Set(['Bearer shared']));
    expect(calls).toHaveLength(1);
  });

  it('does not cache a failure', async () => {
    let fail = true;
    const { request, calls } = recorder(() => (fail ? { status: 503, body: '' } : { status: 200, body: '{"token":"ok"}' }));
    const auth = new TokenAuthenticator(request);
    await expect(auth.authorization([hub], [], undefined)).rejects.toThrow(RegistryError);
    fail = false;
    expect(await auth.authorization([hub], [], undefined)).toBe('Bearer ok');
    expect(calls).toHaveLength(2);
  });

  it('forgets a token it is told was refused', async () => {
    let n = 0;
    const { request } = recorder(() => ({ status: 200, body: JSON.stringify({ token: `tok-${++n}`, expires_in: 300 }) }));
    const auth = new TokenAuthenticator(request);
    const first = await auth.authorization([hub], [], undefined);
    auth.invalidate(first ?? '');
    expect(await auth.authorization([hub], [], undefined)).toBe('Bearer tok-2');
  });
});

describe('TokenAuthenticator errors', () => {
  it('401 with credentials: refused, naming the registry and the user, never the password', async () => {
    const { request } = recorder(() => ({ status: 401, body: '{"details":"incorrect username or password"}' }));
    const auth = new TokenAuthenticator(request, { registry: 'docker.io' });
    const err = await auth.authorization([hub], [], { username: 'alice', password: 'hunter2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).message).toBe('registry docker.io refused the credentials for alice');
    expect((err as AuthenticationError).status).toBe(401);
    expect((err as AuthenticationError).hint).toContain('--password-stdin');
    expect((err as AuthenticationError).hint).toContain('docker login docker.io');
    expect(JSON.stringify({ m: (err as Error).message, h: (err as AuthenticationError).hint })).not.toContain('hunter2');
  });

  it('401 without credentials: credentials are wanted, and how to give them', async () => {
    const { request } = recorder(() => ({ status: 401, body: '' }));
    const err = await new TokenAuthenticator(request, { registry: 'harbor.example' }).authorization([hub], [], undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toBe('registry harbor.example wants credentials: docker login harbor.example, or --username/--password-stdin');
  });

  it('names the registry by the service when not told', async () => {
    const { request } = recorder(() => ({ status: 403, body: '' }));
    const err = await new TokenAuthenticator(request).authorization([hub], [], { identityToken: 'secret-refresh' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toBe('registry registry.docker.io refused the credentials for the identity token');
    expect((err as Error).message).not.toContain('secret-refresh');
  });

  it.each([
    ['no realm', { scheme: 'bearer', params: { service: 's' } }, 'named no realm'],
    ['realm not a URL', { scheme: 'bearer', params: { realm: 'not a url' } }, 'not a URL'],
  ] as Array<[string, AuthChallenge, string]>)('%s is a RegistryError', async (_name, challenge, says) => {
    const { request, calls } = recorder(() => ({ status: 200, body: '{"token":"t"}' }));
    await expect(new TokenAuthenticator(request).authorization([challenge], [], undefined)).rejects.toThrow(says);
    expect(calls).toHaveLength(0);
  });

  it('a server error of the realm is a RegistryError with the status and the reason', async () => {
    const { request } = recorder(() => ({ status: 500, body: '{"errors":[{"code":"UNKNOWN","message":"database is down"}]}' }));
    const err = await new TokenAuthenticator(request).authorization([hub], [], undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).not.toBeInstanceOf(AuthenticationError);
    expect((err as RegistryError).status).toBe(500);
    expect((err as Error).message).toContain('database is down');
    expect((err as Error).message).toContain('https://auth.docker.io/token');
  });
});
