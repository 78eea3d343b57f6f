import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.ts';
import type { ServeEvent } from '../../src/serve/events.ts';
import { DEFAULT_GUESS_LIMITS } from '../../src/serve/guess-limit.ts';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { request } from 'node:http';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { bcryptHtpasswdLine } from '../support/registry.ts';
import { useTempDir } from '../support/tmp.ts';
import { sleep } from '../../src/util/sleep.ts';

// --htpasswd on the HTTP level: the bearer challenge and the registry's own token endpoint, who gets through with
// and without --anonymous-pull, what the log says (the user, never a password), the start-up refusals, and a users
// file edited while serving.
const tmp = useTempDir('airgap-serve-auth-');
let ca: CertificateAuthority;
let htpasswd: string;
const PASSWORD = 'correct horse battery staple';

const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  htpasswd = join(tmp.path, 'htpasswd');
  // As a site makes it: `htpasswd -B`, a comment and a blank line.
  await writeFile(htpasswd, `# registry users\n${await bcryptHtpasswdLine('alice', PASSWORD)}\n\n${await bcryptHtpasswdLine('bob', 'bobs secret')}\n`);
});

// Plain HTTP with --insecure-auth, so fetch needs no CA; HTTPS with real clients: test/e2e/serve-auth.test.ts.
async function start(options: { anonymousPull?: boolean; events?: ServeEvent[] } = {}): Promise<RunningServer> {
  return startServer({
    listen: '127.0.0.1:0', writable: true,
    auth: { htpasswdFile: htpasswd, insecure: true, ...(options.anonymousPull === undefined ? {} : { anonymousPull: options.anonymousPull }) },
    ...(options.events === undefined ? {} : { onEvent: (e: ServeEvent) => options.events?.push(e) }),
  });
}

describe('with --htpasswd', () => {
  let server: RunningServer;
  const events: ServeEvent[] = [];
  beforeAll(async () => {
    server = await start({ events });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('challenges an anonymous request with 401 UNAUTHORIZED and a Bearer challenge to its own token endpoint', async () => {
    for (const path of ['/v2/', '/v2/_catalog', '/v2/app/manifests/v1', '/v2/app/tags/list']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(401);
      const scope = path.startsWith('/v2/app/') ? ',scope="repository:app:pull"' : '';
      expect(res.headers.get('www-authenticate'), path).toBe(`Bearer realm="${server.url}/auth/token",service="airgap-serve"${scope}`);
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('UNAUTHORIZED');
    }
    const push = await fetch(`${server.url}/v2/app/blobs/uploads/`, { method: 'POST' });
    expect(push.status).toBe(401);
    expect(push.headers.get('www-authenticate')).toContain('scope="repository:app:pull,push"');
  });

  it('issues a token for the right password only; the token reads and pushes, a forged one does not', async () => {
    const token = async (headers: Record<string, string>): Promise<Response> => fetch(`${server.url}/auth/token?service=airgap-serve&scope=repository:app:pull,push`, { headers });
    const refused = await token({});
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await token(basic('alice', 'wrong'))).status).toBe(401);
    const granted = await token(basic('alice', PASSWORD));
    expect(granted.status).toBe(200);
    const body = (await granted.json()) as { token: string; access_token: string; expires_in: number };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(900);
    const bearer = { authorization: `Bearer ${body.token}` };
    expect((await fetch(`${server.url}/v2/`, { headers: bearer })).status).toBe(200);
    expect((await fetch(`${server.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: bearer })).status).toBe(202);
    const forged = `${body.token.split('.')[0] ?? ''}.${Buffer.alloc(32).toString('base64url')}`;
    expect((await fetch(`${server.url}/v2/`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
    // containerd tries an OAuth2 POST first, and falls back to GET on 405.
    expect((await fetch(`${server.url}/auth/token`, { method: 'POST' })).status).toBe(405);
  });

  it('lets the right password in, and refuses a wrong one, an unknown user and another scheme', async () => {
    expect((await fetch(`${server.url}/v2/`, { headers: basic('alice', PASSWORD) })).status).toBe(200);
    expect((await fetch(`${server.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: basic('bob', 'bobs secret') })).status).toBe(202);
    expect((await fetch(`${server.url}/v2/`, { headers: basic('alice', 'wrong') })).status).toBe(401);
    expect((await fetch(`${server.url}/v2/`, { headers: basic('mallory', PASSWORD) })).status).toBe(401);
    expect((await fetch(`${server.url}/v2/`, { headers: { authorization: 'Bearer abc' } })).status).toBe(401);
    expect((await fetch(`${server.url}/v2/`, { headers: { authorization: 'Digest username="alice"' } })).status).toBe(401);
  });

  it('logs the user of each request and never a password or Authorization value', () => {
    const requests = events.filter((e): e is Extract<ServeEvent, { type: 'request' }> => e.type === 'request');
    expect(requests.some((e) => e.user === 'alice' && e.status === 200)).toBe(true);
    expect(requests.some((e) => e.user === 'bob' && e.status === 202)).toBe(true);
    // Refused requests name no user: the name given with a wrong password could be anything typed.
    expect(requests.filter((e) => e.status === 401).every((e) => e.user === undefined)).toBe(true);
    const everything = JSON.stringify(events);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain('bobs secret');
    expect(everything).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
  });
});

describe('with --htpasswd --anonymous-pull', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await start({ anonymousPull: true });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lets anyone read, asks for a user to push or delete, and still checks credentials that are given', async () => {
    expect((await fetch(`${server.url}/v2/_catalog`)).status).toBe(200);
    // An empty Basic login (what clients send with none) is anonymous, not a wrong password.
    expect((await fetch(`${server.url}/v2/_catalog`, { headers: basic('', '') })).status).toBe(200);
    // Anonymous tokens: what docker asks for. They read, and pass /v2/, and cannot push.
    const anonymous = (await (await fetch(`${server.url}/auth/token?scope=repository:app:pull`)).json()) as { token: string };
    const bearer = { authorization: `Bearer ${anonymous.token}` };
    expect((await fetch(`${server.url}/v2/`, { headers: bearer })).status).toBe(200);
    expect((await fetch(`${server.url}/v2/app/tags/list`, { headers: bearer })).status).toBe(404);
    expect((await fetch(`${server.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: bearer })).status).toBe(401);
    expect((await fetch(`${server.url}/v2/app/manifests/v1`)).status).toBe(404);
    expect((await fetch(`${server.url}/v2/app/referrers/sha256:${'0'.repeat(64)}`)).status).toBe(200);
    // docker and skopeo learn from /v2/ whether to send credentials when they push.
    expect((await fetch(`${server.url}/v2/`)).status).toBe(401);
    expect((await fetch(`${server.url}/v2/app/blobs/uploads/`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${server.url}/v2/app/manifests/v1`, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(`${server.url}/v2/app/manifests/v1`, { headers: basic('alice', 'wrong') })).status).toBe(401);
    expect((await fetch(`${server.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: basic('alice', PASSWORD) })).status).toBe(202);
  });
});

describe('start-up checks', () => {
  it('refuses --htpasswd over plain HTTP unless --insecure-auth, and serves it over HTTPS', async () => {
    await expect(startServer({ listen: '127.0.0.1:0', auth: { htpasswdFile: htpasswd }, writable: true })).rejects.toThrow(/plain HTTP would send every password across the network in clear/);
    const secure = await startServer({ listen: '127.0.0.1:0', writable: true, tls: { certFile: ca.certFile, keyFile: ca.keyFile }, auth: { htpasswdFile: htpasswd } });
    expect(secure.url).toMatch(/^https:/);
    await secure.close();
  });

  it('refuses an htpasswd file with an entry that is not bcrypt, naming the line and not the hash', async () => {
    const md5 = join(tmp.path, 'htpasswd-md5');
    await writeFile(md5, `${await bcryptHtpasswdLine('alice', PASSWORD)}\ncarol:$apr1$abcdefgh$0123456789abcdefghijkl\n`);
    const refused = startServer({ listen: '127.0.0.1:0', writable: true, auth: { htpasswdFile: md5, insecure: true } });
    await expect(refused).rejects.toBeInstanceOf(UsageError);
    await expect(refused).rejects.toThrow(/htpasswd-md5:2: the entry of carol is not a bcrypt hash/);
    await expect(refused).rejects.not.toThrow(/apr1/);
    await expect(startServer({ listen: '127.0.0.1:0', writable: true, auth: { htpasswdFile: join(tmp.path, 'missing'), insecure: true } })).rejects.toThrow(/cannot be read/);
  });

  it('reads the users file again when it changes: a new user gets in, a removed one no longer does', async () => {
    const file = join(tmp.path, 'htpasswd-live');
    await writeFile(file, `${await bcryptHtpasswdLine('alice', PASSWORD)}\n`);
    // Polled with a password that is wrong until the file is read again: not a guesser to lock out.
    const server = await startServer({ listen: '127.0.0.1:0', auth: { htpasswdFile: file, insecure: true, guessLimits: { ...DEFAULT_GUESS_LIMITS, maxFailures: 1000 } }, writable: true });
    try {
      expect((await fetch(`${server.url}/v2/`, { headers: basic('alice', PASSWORD) })).status).toBe(200);
      await writeFile(file, `${await bcryptHtpasswdLine('dave', 'daves')}\n`);
      // The file is looked at again at most every 2 s: wait for the change to be seen, with no deadline of our own.
      for (;;) {
        if ((await fetch(`${server.url}/v2/`, { headers: basic('dave', 'daves') })).status === 200) break;
        await sleep(200);
      }
      expect((await fetch(`${server.url}/v2/`, { headers: basic('alice', PASSWORD) })).status).toBe(401);
    } finally {
      await server.close();
    }
  });
});

describe('password guesses', () => {
  // Three wrong passwords lock an address out for 1.5 s, then 3 s: the defaults are 10, 60 s and up to 15 min.
  const limits = { ...DEFAULT_GUESS_LIMITS, maxFailures: 3, lockoutMs: 1500, maxLockoutMs: 3000 };
  let server: RunningServer;
  const events: ServeEvent[] = [];
  beforeAll(async () => {
    server = await startServer({ listen: '127.0.0.1:0', writable: true, auth: { htpasswdFile: htpasswd, insecure: true, guessLimits: limits }, onEvent: (e) => events.push(e) });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** GET `path` with basic credentials, from the loopback address `from` (all of 127.0.0.0/8 is this machine). */
  const get = (path: string, user: string, password: string, from = '127.0.0.1'): Promise<{ status: number; retryAfter: string | undefined; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(`${server.url}${path}`, { headers: basic(user, password), localAddress: from, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('locks an address out after too many wrong passwords, the right one included, and tells it when to come back', async () => {
    expect((await get('/v2/', 'alice', 'guess-1')).status).toBe(401);
    expect((await get('/v2/', 'bob', 'guess-2')).status).toBe(401);
    const third = await get('/auth/token?service=airgap-serve', 'alice', 'guess-3');
    expect(third.status).toBe(429);
    expect(third.retryAfter).toBe('2');
    expect(JSON.parse(third.body)).toMatchObject({ errors: [{ code: 'TOOMANYREQUESTS', message: 'too many wrong passwords from 127.0.0.1: try again in 2 s' }] });
    // Locked out: the right password too, with no bcrypt check made.
    const locked = await get('/v2/', 'alice', PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThan(0);
    // Another address of the site is not.
    expect((await get('/v2/', 'alice', PASSWORD, '127.0.0.2')).status).toBe(200);
    expect(events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message)).toContain('127.0.0.1 is locked out for 2 s after too many wrong passwords (the last for user "alice")');
  });

  it('lets the address in once the lockout is over, and locks it out for longer the next time', async () => {
    for (;;) {
      const attempt = await get('/v2/', 'alice', PASSWORD);
      if (attempt.status !== 429) {
        expect(attempt.status).toBe(200);
        break;
      }
      await sleep(Number(attempt.retryAfter) * 1000);
    }
    // The right password cleared the count: two wrong ones are not yet a lockout, the third is, for twice as long.
    expect((await get('/v2/', 'alice', 'again-1')).status).toBe(401);
    expect((await get('/v2/', 'alice', 'again-2')).status).toBe(401);
    expect((await get('/v2/', 'alice', 'again-3')).status).toBe(429);
    // The lockout grew from 1.5 s: after that first one passed, a new round of three failures gives 3 s.
    for (;;) {
      const attempt = await get('/v2/', 'alice', 'again-4');
      if (attempt.status === 429) {
        await sleep(Number(attempt.retryAfter) * 1000);
        continue;
      }
      expect(attempt.status).toBe(401);
      break;
    }
    await get('/v2/', 'alice', 'again-5');
    const longer = await get('/v2/', 'alice', 'again-6');
    expect(longer.status).toBe(429);
    expect(longer.retryAfter).toBe('3');
  }, 30_000);
});
