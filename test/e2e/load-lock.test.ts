/**
 * The lock is the one authority at load (issue 16): every broken or foreign input is refused with one line,
 * and nothing is tagged, pushed, unpacked or left behind. Real docker-registry, real archives from collect.
 */
import { cp, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { run } from '../support/process.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { writeTestCharm } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';
import { corruptLastLayer } from '../support/archive.ts';
import { uncancelledSessions } from '../support/upload-sessions.ts';
import type { Lock } from '../../src/lock.ts';

const tmp = useTempDir('airgap-lock-');
let upstream: RunningRegistry;
let registry: RunningRegistry;
let pushed: PushedImage[];
/** A collect of all but the last demo image (with a charm), and one of every demo image. */
let small: string;
let full: string;

async function collect(name: string, images: readonly PushedImage[]): Promise<string> {
  const dir = join(tmp.path, name);
  await mkdir(dir, { recursive: true });
  await writeTestCharm(join(dir, 'charm_1.charm'), 'charm');
  await writeFile(join(dir, 'airgap.yaml'), [
    'name: demo', 'version: "1.0"', 'charms:', '  - name: charm', '    charm: ./charm_1.charm',
    'images:', ...images.map((p) => `  - ${p.reference}`), '',
  ].join('\n'));
  // Juju's own images would come from docker.io: these tests never leave loopback, whatever juju is installed.
  const result = await runAirgap(['collect', join(dir, 'airgap.yaml'), '-o', join(dir, 'out'), '--plain-http', upstream.host, '--no-juju-images']);
  if (result.code !== 0) throw new Error(result.stderr);
  return join(dir, 'out');
}

async function copyOf(from: string, name: string): Promise<string> {
  const dir = join(tmp.path, 'cases', name);
  await cp(from, dir, { recursive: true });
  return dir;
}

/** Nothing reached the registry under this prefix: no repository, so no blob linked, no tag, no upload. */
async function registryUntouched(prefix: string): Promise<void> {
  expect(existsSync(join(registry.storageDir, 'docker', 'registry', 'v2', 'repositories', prefix))).toBe(false);
}

async function failing(dir: string, args: string[], prefix: string): Promise<string> {
  const result = await runAirgap(['load', ...args, '--registry', `${registry.host}/${prefix}`, '--plain-http', registry.host, '--charms-dir', join(dir, 'charms')]);
  expect(result.code, result.stdout).toBe(1);
  const lines = result.stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'));
  expect(lines).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(existsSync(join(dir, 'airgap-images.json'))).toBe(false);
  expect(existsSync(join(dir, 'charms')) ? await readdir(join(dir, 'charms')) : []).toEqual([]);
  return lines[0] ?? '';
}

beforeAll(async () => {
  upstream = await startRegistry();
  registry = await startRegistry();
  pushed = await pushTestImages(upstream, demoImageSet());
  small = await collect('small', pushed.slice(0, -1));
  full = await collect('full', pushed);
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), registry?.stop()]);
});

describe('load holds the archive to its lock', () => {
  it('an archive under another name with an image the lock does not list: refused before anything is sent', async () => {
    const dir = await copyOf(small, 'added');
    await rm(join(dir, 'images.tar.gz'));
    await cp(join(full, 'images.tar.gz'), join(dir, 'release-images.tar.gz'));
    const line = await failing(dir, [join(dir, 'release-images.tar.gz')], 'added');
    expect(line).toContain('release-images.tar.gz');
    expect(line).toContain(`image ${pushed.at(-1)?.repository}:${pushed.at(-1)?.tag}, which airgap-lock.json does not list`);
    await registryUntouched('added');
  });

  it('images.tar (the archive unpacked from its gzip): its sha256 is checked too, nothing tagged', async () => {
    const dir = await copyOf(small, 'gunzipped');
    await run('sh', ['-c', `gzip -dc "${join(dir, 'images.tar.gz')}" > "${join(dir, 'images.tar')}" && rm "${join(dir, 'images.tar.gz')}"`]);
    const line = await failing(dir, [dir], 'gunzipped');
    expect(line).toMatch(/images\.tar has sha256 sha256:[a-f0-9]{64}, airgap-lock\.json says images\.tar\.gz is sha256:[a-f0-9]{64}/);
    expect(line).toContain('nothing was tagged');
    for (const image of pushed) {
      const res = await fetch(`${registry.url}/v2/gunzipped/${image.repository}/tags/list`);
      expect(res.status === 404 || ((await res.json()) as { tags: string[] | null }).tags === null).toBe(true);
    }
  });

  it('an image the lock lists is missing from the archive: refused, nothing sent', async () => {
    const dir = await copyOf(small, 'subset');
    const lock = JSON.parse(await readFile(join(full, 'airgap-lock.json'), 'utf8')) as Lock;
    const mine = JSON.parse(await readFile(join(dir, 'airgap-lock.json'), 'utf8')) as Lock;
    await writeFile(join(dir, 'airgap-lock.json'), JSON.stringify({ ...mine, images: lock.images }));
    const line = await failing(dir, [dir], 'subset');
    expect(line).toContain(`lacks 1 image(s) airgap-lock.json lists: ${pushed.at(-1)?.repository}:${pushed.at(-1)?.tag}`);
    await registryUntouched('subset');
  });

  it('a charms.tar.gz that is not the lock\'s (a changed airgap.yaml): refused before any image is sent', async () => {
    const dir = await copyOf(small, 'charms-changed');
    const work = join(dir, 'unpacked');
    await mkdir(work);
    await run('tar', ['-xzf', join(dir, 'charms.tar.gz'), '-C', work]);
    await writeFile(join(work, 'airgap.yaml'), `${await readFile(join(work, 'airgap.yaml'), 'utf8')}# changed\n`);
    await run('tar', ['-czf', join(dir, 'charms.tar.gz'), '-C', work, ...(await readdir(work))]);
    await rm(work, { recursive: true });
    const line = await failing(dir, [dir], 'charms-changed');
    expect(line).toMatch(/charms\.tar\.gz has sha256 .*airgap-lock\.json says charms\.tar\.gz is/);
    await registryUntouched('charms-changed');
  });

  it('no lock: refused unless --no-lock, which loads and says so', async () => {
    const dir = await copyOf(small, 'no-lock');
    await rm(join(dir, 'airgap-lock.json'));
    const line = await failing(dir, [dir], 'no-lock');
    expect(line).toContain('no airgap-lock.json beside');
    expect(line).toContain('--no-lock');
    await registryUntouched('no-lock');
    const result = await runAirgap(['load', dir, '--no-lock', '--registry', `${registry.host}/no-lock`, '--plain-http', registry.host, '--charms-dir', join(dir, 'charms')]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('without a lock (--no-lock)');
  });

  it('an empty archive with no lock: an error, not "loaded 0 images"', async () => {
    const dir = join(tmp.path, 'cases', 'empty');
    await mkdir(join(dir, 'nothing'), { recursive: true });
    await run('tar', ['-czf', join(dir, 'images.tar.gz'), '-C', join(dir, 'nothing'), '.']);
    const line = await failing(dir, [dir, '--no-lock'], 'empty');
    expect(line).toContain('images.tar.gz holds no image');
    await registryUntouched('empty');
  });

  it('a corrupt layer: the failed upload is cancelled, nothing tagged, no upload left in the registry', async () => {
    const dir = await copyOf(small, 'corrupt');
    await corruptLastLayer(dir);
    const line = await failing(dir, [dir], 'corrupt');
    expect(line).toMatch(/content digest is sha256:[a-f0-9]{64}, expected sha256:[a-f0-9]{64}/);
    expect((await uncancelledSessions(registry)).open).toEqual([]);
    // Every upload that failed is gone from the registry's store (but the empty hashstates/ it re-creates).
    const data = await run('find', [registry.storageDir, '-path', '*/corrupt/*/_uploads/*', '-name', 'data']);
    expect(data.stdout.toString().trim()).toBe('');
    for (const image of pushed) {
      const res = await fetch(`${registry.url}/v2/corrupt/${image.repository}/tags/list`);
      expect(res.status === 404 || ((await res.json()) as { tags: string[] | null }).tags === null).toBe(true);
    }
  });
});

describe('charms.tar.gz that cannot be read: the file named, nothing half-written', () => {
  const withCharms = async (name: string, make: (file: string) => Promise<void>): Promise<{ line: string; dir: string }> => {
    const dir = await copyOf(small, name);
    await rm(join(dir, 'airgap-lock.json'));
    const file = join(dir, 'charms.tar.gz');
    await make(file);
    const result = await runAirgap(['load', dir, '--no-lock', '--registry', `${registry.host}/${name}`, '--plain-http', registry.host, '--charms-dir', join(dir, 'charms')]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'));
    expect(lines).toHaveLength(1);
    const left = existsSync(join(dir, 'charms')) ? await readdir(join(dir, 'charms')) : [];
    expect(left.filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(left).toEqual([]);
    return { line: lines[0] ?? '', dir };
  };

  it('truncated: no .partial file left', async () => {
    const { line } = await withCharms('charms-truncated', async (file) => {
      const size = (await readFile(file)).length;
      await truncate(file, Math.floor(size / 2));
    });
    expect(line).toContain('charms.tar.gz');
    expect(line).toMatch(/truncated|corrupt/);
  });

  it('not a tar at all (Invalid tar header): the file named', async () => {
    const { line } = await withCharms('charms-garbage', async (file) => {
      await run('sh', ['-c', `head -c 4096 /dev/urandom | gzip > "${file}"`]);
    });
    expect(line).toContain('charms.tar.gz');
  });

  it('a directory where the file should be (EISDIR): the file named', async () => {
    const { line } = await withCharms('charms-dir', async (file) => {
      await rm(file);
      await mkdir(file);
    });
    expect(line).toContain('charms.tar.gz');
    expect(line).toContain('EISDIR');
  });
});
