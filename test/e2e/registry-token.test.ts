/**
 * The bearer-token flow every public registry uses, against a real docker-registry with `auth: token`: the
 * registry verifies the tokens (RS256, x5c chain to its rootcertbundle); only the issuer is a stand-in.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { inspectRaw, sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';
import { startTokenIssuer, TOKEN_ISSUER, TOKEN_SERVICE, type TokenIssuer } from '../support/token-issuer.ts';
import type { Lock } from '../../src/lock.ts';

const USER = 'token-user';
const PASSWORD = 't0ken-Pa55';

const tmp = useTempDir('airgap-token-');
let upstream: RunningRegistry;
let issuer: TokenIssuer;
let registry: RunningRegistry;
let pushed: PushedImage[];
let collected: string;

beforeAll(async () => {
  upstream = await startRegistry();
  pushed = await pushTestImages(upstream, demoImageSet());
  issuer = await startTokenIssuer(tmp.path, { username: USER, password: PASSWORD });
  registry = await startRegistry({ token: { realm: issuer.realm, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER, rootCertFile: issuer.rootCertFile } });
  collected = join(tmp.path, 'collected');
  await mkdir(collected);
  await writeFile(join(collected, 'images.txt'), pushed.map((p) => p.reference).join('\n'));
  const collect = await runAirgap(['collect', join(collected, 'images.txt'), '-o', collected, '--plain-http', upstream.host]);
  if (collect.code !== 0) throw new Error(collect.stderr);
});

afterAll(async () => {
  await registry?.stop();
  await issuer?.stop();
  await upstream?.stop();
});

describe('a registry with token auth (docker-registry auth: token)', () => {
  it('load: gets tokens with the scopes each request needs, and the registry accepts them', async () => {
    const before = issuer.asks.length;
    const result = await runAirgap(['load', collected, '--registry', registry.host, '--plain-http', registry.host, '--username', USER, '--password-stdin', '--charms-dir', join(tmp.path, 'charms')], { input: PASSWORD });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const image of pushed) {
      const raw = await inspectRaw(`${registry.host}/${image.repository}:${image.tag}`, { username: USER, password: PASSWORD });
      expect(sha256Digest(raw)).toBe(image.digest);
    }
    const asks = issuer.asks.slice(before);
    expect(asks.every((a) => a.account === USER && a.granted && a.service === TOKEN_SERVICE)).toBe(true);
    const scopes = new Set(asks.flatMap((a) => a.scopes));
    for (const image of pushed) expect(scopes).toContain(`repository:${image.repository}:pull,push`);
    // A shared base is mounted from where it was first pushed: that needs pull on the other repository too.
    expect(asks.some((a) => a.scopes.length === 2 && a.scopes[1]?.endsWith(':pull'))).toBe(true);
    expect(result.stdout).not.toContain(PASSWORD);
  });

  it('collect: takes --username/--password-stdin, and asks for pull only', async () => {
    const out = join(tmp.path, 'recollect');
    await mkdir(out);
    await writeFile(join(out, 'images.txt'), pushed.map((p) => `${registry.host}/${p.repository}:${p.tag}`).join('\n'));
    const before = issuer.asks.length;
    const result = await runAirgap(['collect', join(out, 'images.txt'), '-o', out, '--plain-http', registry.host, '--username', USER, '--password-stdin'], { input: `${PASSWORD}\n` });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lock = JSON.parse(await readFile(join(out, 'airgap-lock.json'), 'utf8')) as Lock;
    for (const image of pushed) expect(lock.images.find((i) => i.path === `${image.repository}:${image.tag}`)?.digest).toBe(image.digest);
    const asks = issuer.asks.slice(before);
    expect(asks.length).toBeGreaterThan(0);
    expect(asks.flatMap((a) => a.scopes).every((s) => s.endsWith(':pull'))).toBe(true);
  });

  it('collect without credentials: says the registry wants some and how to give them', async () => {
    const out = join(tmp.path, 'anonymous');
    await mkdir(out);
    await writeFile(join(out, 'images.txt'), `${registry.host}/${pushed[0]?.repository}:${pushed[0]?.tag}\n`);
    const result = await runAirgap(['collect', join(out, 'images.txt'), '-o', out, '--plain-http', registry.host], { env: { DOCKER_CONFIG: join(tmp.path, 'no-docker-config') } });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`${registry.host} wants credentials: docker login ${registry.host}, or --username/--password-stdin`);
    expect(result.stderr).not.toMatch(/refused/);
  });

  it('collect with a wrong password: says it was refused, never the password', async () => {
    const out = join(tmp.path, 'wrong');
    await mkdir(out);
    await writeFile(join(out, 'images.txt'), `${registry.host}/${pushed[0]?.repository}:${pushed[0]?.tag}\n`);
    const result = await runAirgap(['collect', join(out, 'images.txt'), '-o', out, '--plain-http', registry.host, '--username', USER, '--password-stdin'], { input: 'not-the-password' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`refused the credentials for ${USER}`));
    expect(result.stderr).not.toContain('not-the-password');
  });

  it('collect --username with images from two registries: a usage error, nothing sent', async () => {
    const out = join(tmp.path, 'two');
    await mkdir(out);
    await writeFile(join(out, 'images.txt'), `${registry.host}/${pushed[0]?.repository}:${pushed[0]?.tag}\n${upstream.host}/${pushed[1]?.repository}:${pushed[1]?.tag}\n`);
    const before = issuer.asks.length;
    const result = await runAirgap(['collect', join(out, 'images.txt'), '-o', out, '--plain-http', registry.host, '--plain-http', upstream.host, '--username', USER, '--password-stdin'], { input: PASSWORD });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--username is for one registry');
    expect(issuer.asks.length).toBe(before);
  });
});
