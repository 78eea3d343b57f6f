import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lock } from '../../src/lock.ts';
import type { VerifyReport } from '../../src/verify/verify.ts';
import { runAirgap } from '../support/airgap-cli.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { inspectRaw, sha256Digest, skopeo } from '../support/skopeo.ts';
import { startServeCli } from './serve-cli.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

// A release of about 4 MB collected whole and in parts of 1 MB, from the same registry.
let tmp: TempDir;
let registry: RunningRegistry;
let pushed: PushedImage[];
let whole: string;
let split: string;
let lock: Lock;

beforeAll(async () => {
  tmp = await makeTempDir('airgap-split-');
  registry = await startRegistry();
  pushed = await pushTestImages(registry, demoImageSet(20));
  const list = join(tmp.path, 'images.txt');
  await writeFile(list, pushed.map((p) => `${p.reference}\n`).join(''));
  whole = join(tmp.path, 'whole');
  split = join(tmp.path, 'split');
  for (const [out, extra] of [[whole, []], [split, ['--split', '1M']]] as const) {
    const result = await runAirgap(['collect', list, '-o', out, '--plain-http', registry.host, ...extra]);
    if (result.code !== 0) throw new Error(result.stderr);
  }
  lock = JSON.parse(await readFile(join(split, 'airgap-lock.json'), 'utf8')) as Lock;
});

afterAll(async () => {
  await registry?.stop();
  await tmp?.remove();
});

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A copy of the split collect to damage. */
async function copyOfSplit(name: string): Promise<string> {
  const dir = join(tmp.path, name);
  await cp(split, dir, { recursive: true });
  return dir;
}

async function verifyJson(dir: string): Promise<{ code: number | null; report: VerifyReport; stderr: string }> {
  const result = await runAirgap(['verify', dir, '--json']);
  return { code: result.code, report: JSON.parse(result.stdout) as VerifyReport, stderr: result.stderr };
}

describe('collect --split 1M', () => {
  it('writes parts of at most 1 MB that cat joins into the very archive an unsplit collect writes', async () => {
    const names = (await readdir(split)).filter((n) => n.startsWith('images.tar.gz')).sort();
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(names).toEqual(names.map((_, i) => `images.tar.gz.${String(i).padStart(3, '0')}`));
    const parts = await Promise.all(names.map((n) => readFile(join(split, n))));
    for (const part of parts.slice(0, -1)) expect(part.length).toBe(1_000_000);
    expect(parts.at(-1)?.length).toBeLessThanOrEqual(1_000_000);
    const joined = Buffer.concat(parts);
    expect(sha256(joined)).toBe(sha256(await readFile(join(whole, 'images.tar.gz'))));
    const locked = lock.archives['images.tar.gz'];
    expect(locked?.sha256).toBe(`sha256:${sha256(joined)}`);
    expect(locked?.parts?.map((p) => ({ file: p.file, size: p.size, sha256: p.sha256 }))).toEqual(names.map((file, i) => ({ file, size: parts[i]?.length, sha256: `sha256:${sha256(parts[i] as Buffer)}` })));
  });

  it('load reads the parts in order, straight into the registry', async () => {
    const target = await startRegistry();
    try {
      const result = await runAirgap(['load', split, '--registry', target.host, '--plain-http', target.host, '--charms-dir', join(tmp.path, 'charms')]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      for (const image of pushed) {
        expect(sha256Digest(await inspectRaw(`${target.host}/${image.repository}:${image.tag}`, { tlsVerify: false }))).toBe(image.digest);
      }
    } finally {
      await target.stop();
    }
  });

  it('serve reads the parts in order, and serves every image', async () => {
    const server = await startServeCli([split]);
    try {
      for (const image of pushed) {
        expect(sha256Digest(await inspectRaw(`${server.host}/${image.repository}:${image.tag}`, { tlsVerify: false }))).toBe(image.digest);
      }
      // A layer pulled whole: its bytes come out of the parts.
      await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${server.host}/${pushed[1]?.repository ?? ''}:${pushed[1]?.tag ?? ''}`, `oci:${join(tmp.path, 'pulled')}:x`]);
    } finally {
      await server.stop();
    }
  });

  it('a re-collect without --split leaves no part of the earlier one behind', async () => {
    const dir = await copyOfSplit('resplit');
    const list = join(tmp.path, 'images.txt');
    expect((await runAirgap(['collect', list, '-o', dir, '--plain-http', registry.host])).code).toBe(0);
    expect((await readdir(dir)).filter((n) => n.startsWith('images.tar.gz'))).toEqual(['images.tar.gz']);
  });
});

describe('verify', () => {
  it('passes the parts as collected', async () => {
    const { code, report } = await verifyJson(split);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.blobs.checked).toBe(report.blobs.expected);
    expect(report.blobs.expected).toBe(lock.blobs?.length);
  });

  it('names a part with one bit flipped, the blob it damaged and the images that need it', async () => {
    const dir = await copyOfSplit('flipped');
    const part = join(dir, 'images.tar.gz.001');
    const bytes = await readFile(part);
    bytes[500_000] = (bytes[500_000] ?? 0) ^ 0x01;
    await writeFile(part, bytes);
    const { code, report, stderr } = await verifyJson(dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: .* does not hold what .*airgap-lock\.json records/);
    expect(report.files.filter((f) => f.status !== 'ok').map((f) => f.file)).toEqual([part, join(dir, 'images.tar.gz')]);
    const corrupt = report.problems.filter((p) => p.status === 'corrupt');
    expect(corrupt).toHaveLength(1);
    expect(corrupt[0]?.kind).toBe('blob');
    const needing = lock.blobs?.find((b) => b.digest === corrupt[0]?.name)?.images;
    expect(corrupt[0]?.images).toEqual(needing);
    expect(report.images).toEqual([...(needing ?? [])].sort());
    // And in words, for a person.
    const text = await runAirgap(['verify', dir]);
    expect(text.stdout).toMatch(new RegExp(`corrupt  images\\.tar\\.gz\\.001  sha256 is sha256:[0-9a-f]{64}, the lock says ${lock.archives['images.tar.gz']?.parts?.[1]?.sha256}`));
    expect(text.stdout).toContain(`corrupt  blob ${corrupt[0]?.name}`);
  });

  it('names a missing part, and the blobs it cannot reach after it with their images', async () => {
    const dir = await copyOfSplit('missing');
    await rm(join(dir, 'images.tar.gz.002'));
    const { code, report } = await verifyJson(dir);
    expect(code).toBe(1);
    expect(report.files.find((f) => f.file.endsWith('images.tar.gz.002'))?.status).toBe('missing');
    expect(report.files.filter((f) => f.status === 'ok').length).toBe((lock.archives['images.tar.gz']?.parts?.length ?? 0) - 1 + 1);
    expect(report.breaks).toEqual([{ archive: 'images.tar.gz', detail: 'it cannot be read past images.tar.gz.002, which is missing' }]);
    const unread = report.problems.filter((p) => p.status === 'unread');
    expect(unread.length).toBeGreaterThan(0);
    expect(unread.every((p) => p.images.length > 0)).toBe(true);
    expect(report.blobs.checked + unread.length).toBe(report.blobs.expected);
    // load refuses it before reading a byte.
    const loaded = await runAirgap(['load', dir, '--registry', '127.0.0.1:9', '--plain-http', '127.0.0.1:9']);
    expect(loaded.code).toBe(1);
    expect(loaded.stderr).toContain(`${join(dir, 'images.tar.gz.002')} is missing: the archive is in ${lock.archives['images.tar.gz']?.parts?.length} parts`);
  });

  it('names a truncated archive (parts joined, the end cut off) and what it lacks', async () => {
    const dir = join(tmp.path, 'truncated');
    await mkdir(dir);
    await cp(join(split, 'airgap-lock.json'), join(dir, 'airgap-lock.json'));
    await cp(join(split, 'charms.tar.gz'), join(dir, 'charms.tar.gz'));
    await cp(join(whole, 'images.tar.gz'), join(dir, 'images.tar.gz'));
    const size = (await stat(join(dir, 'images.tar.gz'))).size;
    await truncate(join(dir, 'images.tar.gz'), Math.floor(size * 0.7));
    const { code, report } = await verifyJson(dir);
    expect(code).toBe(1);
    expect(report.files[0]).toMatchObject({ file: join(dir, 'images.tar.gz'), status: 'corrupt', size: Math.floor(size * 0.7), expectedSize: size });
    expect(report.files[0]?.detail).toContain('(truncated)');
    expect(report.breaks[0]?.detail).toMatch(/truncated or corrupt at byte/);
    expect(report.problems.length).toBeGreaterThan(0);
    expect(report.images.length).toBeGreaterThan(0);
  });
});
