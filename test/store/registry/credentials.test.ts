import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AirgapError, AuthenticationError } from '../../../src/errors.ts';
import { lookupCredentials } from '../../../src/store/registry/credentials.ts';
import type { Credentials } from '../../../src/store/registry/credentials.ts';
import { useTempDir } from '../../support/tmp.ts';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

const tmp = useTempDir('airgap-creds-');
let binDir: string;
/** An environment with nothing of the user's: HOME and PATH point into the temp dir. */
let env: NodeJS.ProcessEnv;

/**
 * A real credential helper following the docker-credential-helpers protocol: reads the server URL on
 * stdin, answers from a table keyed by the exact server URL (so a test also checks what was asked),
 * "credentials not found in native keychain" otherwise.
 */
async function writeHelper(name: string, table: Record<string, { Username: string; Secret: string }>): Promise<void> {
  const cases = Object.entries(table)
    .map(([server, answer]) => `  '${server}') printf '%s' '${JSON.stringify({ ServerURL: server, ...answer })}' ;;`)
    .join('\n');
  const script = `#!/bin/sh
[ "$1" = get ] || { echo "unknown action $1"; exit 1; }
read -r server
case "$server" in
${cases}
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
`;
  const file = join(binDir, `docker-credential-${name}`);
  await writeFile(file, script);
  await chmod(file, 0o755);
}

function writeConfig(name: string, content: unknown): Promise<string> {
  return tmp.write(name, typeof content === 'string' ? content : JSON.stringify(content));
}

beforeAll(async () => {
  binDir = await tmp.dir('bin');
  // /bin for sh, printf, echo, case used by the helper scripts.
  env = { HOME: join(tmp.path, 'home'), PATH: `${binDir}:/usr/bin:/bin` };
  await writeHelper('good', {
    'registry.example.com': { Username: 'helper-user', Secret: 'helper-pass' },
    'https://index.docker.io/v1/': { Username: 'hub-user', Secret: 'hub-pass' },
    'token.example.com': { Username: '<token>', Secret: 'refresh-token-value' },
  });
  await writeHelper('store', { 'store.example.com': { Username: 'store-user', Secret: 'store-pass' } });
  const broken = join(binDir, 'docker-credential-broken');
  await writeFile(broken, '#!/bin/sh\necho "error getting credentials - err: exit status 1, out: keyring is locked" \nexit 1\n');
  await chmod(broken, 0o755);
  const garbage = join(binDir, 'docker-credential-garbage');
  await writeFile(garbage, '#!/bin/sh\necho "not json but contains s3cr3t-value"\n');
  await chmod(garbage, 0o755);
});

describe('lookupCredentials from auths', () => {
  const rows: Array<[string, Record<string, unknown>, string, Credentials | undefined]> = [
    ['bare host key', { 'registry.example.com': { auth: b64('alice:pa:ss') } }, 'registry.example.com', { username: 'alice', password: 'pa:ss' }],
    ['https:// key', { 'https://registry.example.com': { auth: b64('bob:pw') } }, 'registry.example.com', { username: 'bob', password: 'pw' }],
    ['http://host/v1/ key', { 'http://registry.example.com/v1/': { auth: b64('carol:pw') } }, 'registry.example.com', { username: 'carol', password: 'pw' }],
    ['host:port key', { 'localhost:5000': { auth: b64('dave:pw') } }, 'localhost:5000', { username: 'dave', password: 'pw' }],
    ['host:port does not match another port', { 'localhost:5000': { auth: b64('dave:pw') } }, 'localhost:5001', undefined],
    ['docker.io under the v1 index URL', { 'https://index.docker.io/v1/': { auth: b64('hubber:pw') } }, 'docker.io', { username: 'hubber', password: 'pw' }],
    ['docker.io under a bare docker.io key', { 'docker.io': { auth: b64('hubber2:pw') } }, 'docker.io', { username: 'hubber2', password: 'pw' }],
    ['identity token', { 'registry.example.com': { auth: b64('eve:'), identitytoken: 'idt' } }, 'registry.example.com', { identityToken: 'idt', username: 'eve' }],
    ['identity token alone', { 'registry.example.com': { identitytoken: 'idt' } }, 'registry.example.com', { identityToken: 'idt' }],
    ['username and password fields', { 'registry.example.com': { username: 'frank', password: 'pw' } }, 'registry.example.com', { username: 'frank', password: 'pw' }],
    ['empty entry left by a credsStore login', { 'registry.example.com': {} }, 'registry.example.com', undefined],
    ['per-repository key is not for the whole host', { 'quay.io/org/app': { auth: b64('gina:pw') } }, 'quay.io', undefined],
    ['host is matched case-insensitively', { 'Registry.Example.com': { auth: b64('hank:pw') } }, 'registry.example.COM', { username: 'hank', password: 'pw' }],
    ['other hosts only', { 'other.example.com': { auth: b64('ivan:pw') } }, 'registry.example.com', undefined],
  ];
  it.each(rows)('%s', async (name, auths, host, expected) => {
    const configPath = await writeConfig(`auths-${name.replace(/\W+/g, '-')}.json`, { auths });
    expect(await lookupCredentials(host, { configPath, env })).toEqual(expected);
  });
});

describe('lookupCredentials from credential helpers', () => {
  it('asks the credHelpers entry of the host with the server URL on stdin', async () => {
    const configPath = await writeConfig('helpers.json', {
      credHelpers: { 'registry.example.com': 'good' },
      auths: { 'registry.example.com': { auth: b64('file-user:file-pass') } },
    });
    expect(await lookupCredentials('registry.example.com', { configPath, env })).toEqual({ username: 'helper-user', password: 'helper-pass' });
  });

  it('asks for docker.io as https://index.docker.io/v1/', async () => {
    const configPath = await writeConfig('hub-helper.json', { credHelpers: { 'https://index.docker.io/v1/': 'good' } });
    expect(await lookupCredentials('docker.io', { configPath, env })).toEqual({ username: 'hub-user', password: 'hub-pass' });
  });

  it("turns the '<token>' user name into an identity token", async () => {
    const configPath = await writeConfig('token-helper.json', { credHelpers: { 'token.example.com': 'good' } });
    expect(await lookupCredentials('token.example.com', { configPath, env })).toEqual({ identityToken: 'refresh-token-value' });
  });

  it('uses credsStore for hosts without a credHelpers entry', async () => {
    const configPath = await writeConfig('store.json', { credsStore: 'store', credHelpers: { 'registry.example.com': 'good' } });
    expect(await lookupCredentials('store.example.com', { configPath, env })).toEqual({ username: 'store-user', password: 'store-pass' });
  });

  it.each([
    ['a helper that has nothing for the host', 'good'],
    ['a helper that is not installed', 'not-installed'],
  ])('falls through to auths after %s', async (_name, helper) => {
    const configPath = await writeConfig(`fallthrough-${helper}.json`, {
      credsStore: helper,
      auths: { 'elsewhere.example.com': { auth: b64('file-user:file-pass') } },
    });
    expect(await lookupCredentials('elsewhere.example.com', { configPath, env })).toEqual({ username: 'file-user', password: 'file-pass' });
  });

  it('gives undefined when the helper has nothing and there is no auths entry', async () => {
    const configPath = await writeConfig('nothing.json', { credsStore: 'good' });
    expect(await lookupCredentials('nowhere.example.com', { configPath, env })).toBeUndefined();
  });

  it('names a failing helper, with its message', async () => {
    const configPath = await writeConfig('broken.json', { credHelpers: { 'registry.example.com': 'broken' } });
    const err = await lookupCredentials('registry.example.com', { configPath, env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toContain('docker-credential-broken');
    expect((err as Error).message).toContain('keyring is locked');
  });

  it('does not quote the output of a helper that succeeded with garbage, which may hold the secret', async () => {
    const configPath = await writeConfig('garbage.json', { credHelpers: { 'registry.example.com': 'garbage' } });
    const err = await lookupCredentials('registry.example.com', { configPath, env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toContain('docker-credential-garbage');
    expect(`${(err as Error).message} ${(err as AuthenticationError).hint}`).not.toContain('s3cr3t');
  });
});

describe('lookupCredentials: which files', () => {
  it('reads $DOCKER_CONFIG/config.json', async () => {
    const dockerConfig = join(tmp.path, 'docker-config');
    await mkdir(dockerConfig, { recursive: true });
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { 'a.example.com': { auth: b64('dc:pw') } } }));
    expect(await lookupCredentials('a.example.com', { env: { ...env, DOCKER_CONFIG: dockerConfig } })).toEqual({ username: 'dc', password: 'pw' });
  });

  it('reads ~/.docker/config.json', async () => {
    const home = join(tmp.path, 'home-with-config');
    await mkdir(join(home, '.docker'), { recursive: true });
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'b.example.com': { auth: b64('homer:pw') } } }));
    expect(await lookupCredentials('b.example.com', { env: { ...env, HOME: home } })).toEqual({ username: 'homer', password: 'pw' });
  });

  it('falls back to $REGISTRY_AUTH_FILE', async () => {
    const configPath = await writeConfig('docker-without-c.json', { auths: { 'other.example.com': { auth: b64('x:y') } } });
    const authFile = await writeConfig('podman-auth.json', { auths: { 'c.example.com': { auth: b64('podder:pw') } } });
    expect(await lookupCredentials('c.example.com', { configPath, env: { ...env, REGISTRY_AUTH_FILE: authFile } })).toEqual({
      username: 'podder',
      password: 'pw',
    });
  });

  it('falls back to $XDG_RUNTIME_DIR/containers/auth.json', async () => {
    const runtime = join(tmp.path, 'runtime');
    await mkdir(join(runtime, 'containers'), { recursive: true });
    await writeFile(join(runtime, 'containers', 'auth.json'), JSON.stringify({ auths: { 'd.example.com': { auth: b64('rt:pw') } } }));
    expect(await lookupCredentials('d.example.com', { env: { ...env, XDG_RUNTIME_DIR: runtime } })).toEqual({ username: 'rt', password: 'pw' });
  });

  it('prefers docker config over the podman file', async () => {
    const configPath = await writeConfig('docker-first.json', { auths: { 'e.example.com': { auth: b64('docker:pw') } } });
    const authFile = await writeConfig('podman-second.json', { auths: { 'e.example.com': { auth: b64('podman:pw') } } });
    expect(await lookupCredentials('e.example.com', { configPath, env: { ...env, REGISTRY_AUTH_FILE: authFile } })).toEqual({
      username: 'docker',
      password: 'pw',
    });
  });

  it('gives undefined when no file exists', async () => {
    expect(await lookupCredentials('f.example.com', { configPath: join(tmp.path, 'absent.json'), env })).toBeUndefined();
  });
});

describe('lookupCredentials: broken files', () => {
  it.each([
    ['not JSON', '{"auths": {"g.example.com": {"auth": "c2VjcmV0LXBhc3N3b3Jk"', 'is not valid JSON'],
    ['not an object', '[1, 2]', 'is not a JSON object'],
    ['auths not an object', '{"auths": "x"}', '"auths" is not an object'],
    ['auth not base64 user:password', JSON.stringify({ auths: { 'g.example.com': { auth: b64('no-colon-secret') } } }), 'is not base64'],
  ])('%s: an AirgapError naming the file, without the secret', async (name, content, says) => {
    const configPath = await writeConfig(`broken-${name.replace(/\W+/g, '-')}.json`, content);
    const err = await lookupCredentials('g.example.com', { configPath, env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirgapError);
    const text = `${(err as Error).message} ${(err as AirgapError).hint ?? ''}`;
    expect(text).toContain(configPath);
    expect(text).toContain(says);
    expect(text).not.toContain('c2VjcmV0');
    expect(text).not.toContain('secret');
  });
});
