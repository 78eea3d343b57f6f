import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIRGAP_BIN, runAirgap } from '../support/airgap-cli.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { pushTestImages, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { useTempDir } from '../support/tmp.ts';
import type { Lock } from '../../src/lock.ts';
import { sleep } from '../../src/util/sleep.ts';

// A real registry behind a proxy that breaks things on purpose.
const tmp = useTempDir('airgap-faults-');
let registry: RunningRegistry;
let pushed: PushedImage[];

beforeAll(async () => {
  registry = await startRegistry();
  pushed = await pushTestImages(registry, [
    { repository: 'faults/big', tag: '1', layers: [{ seed: 'big-1', sizeBytes: 3_000_000, files: 3 }, { seed: 'big-2', sizeBytes: 2_000_000 }] },
  ]);
});

afterAll(async () => {
  await registry?.stop();
});

async function imageList(name: string, host: string): Promise<{ dir: string; list: string }> {
  const dir = join(tmp.path, name);
  await mkdir(dir);
  const list = join(dir, 'images.txt');
  await writeFile(list, `${host}/faults/big:1\n`);
  return { dir, list };
}

describe('collect through faults', () => {
  it('resumes a blob download cut mid-way with a Range request', async () => {
    const proxy = await startFaultProxy(registry.host, { cutBlobs: { count: 2, afterBytes: 700_000 } });
    try {
      const { dir, list } = await imageList('resume', proxy.host);
      const result = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', proxy.host]);
      expect(result.stderr).not.toContain('error');
      expect(result.code).toBe(0);
      const lock = JSON.parse(await readFile(join(dir, 'out', 'airgap-lock.json'), 'utf8')) as Lock;
      expect(lock.images[0]?.digest).toBe(pushed[0]?.digest);
      const cut = proxy.requests.filter((r) => r.faulted?.startsWith('cut'));
      expect(cut).toHaveLength(2);
      // Each cut blob was asked again from where it broke, not from the start.
      const resumed = proxy.requests.filter((r) => r.range !== undefined);
      expect(resumed.map((r) => r.range)).toEqual(expect.arrayContaining([expect.stringMatching(/^bytes=[1-9]\d*-$/)]));
      expect(resumed.length).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.stop();
    }
  });

  it('waits as told by a registry that answers 429 with Retry-After', async () => {
    const proxy = await startFaultProxy(registry.host, { failFirst: { status: 429, count: 2, retryAfterSeconds: 1 } });
    try {
      const { dir, list } = await imageList('too-many', proxy.host);
      const result = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', proxy.host]);
      expect(result.code).toBe(0);
      expect(proxy.requests.filter((r) => r.faulted !== undefined)).toHaveLength(2);
    } finally {
      await proxy.stop();
    }
  });

  it('retries a registry that answers 500 for a while', async () => {
    const proxy = await startFaultProxy(registry.host, { failFirst: { status: 500, count: 3 } });
    try {
      const { dir, list } = await imageList('retry', proxy.host);
      const result = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', proxy.host]);
      expect(result.code).toBe(0);
      expect(proxy.requests.filter((r) => r.faulted !== undefined)).toHaveLength(3);
    } finally {
      await proxy.stop();
    }
  });

  it('gives up on a registry that keeps answering 500, with one clear line', async () => {
    const proxy = await startFaultProxy(registry.host, { failFirst: { status: 503, count: 1000, path: /manifests/ } });
    try {
      const { dir, list } = await imageList('give-up', proxy.host);
      const result = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', proxy.host]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain('503');
      expect(result.stderr).toContain('faults/big:1');
      expect(result.stderr).toContain('images.txt:1');
    } finally {
      await proxy.stop();
    }
  });

  it('stops cleanly on Ctrl-C: no archive under its final name, no partial file', async () => {
    const proxy = await startFaultProxy(registry.host, { blobBytesPerSecond: 500_000 });
    try {
      const { dir, list } = await imageList('interrupt', proxy.host);
      const out = join(dir, 'out');
      const child = spawn(process.execPath, [AIRGAP_BIN, 'collect', list, '-o', out, '--plain-http', proxy.host, '--cache', join(dir, 'cache')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      // Interrupt once layer bytes are flowing.
      for (let i = 0; i < 200 && !proxy.requests.some((r) => /blobs/.test(r.url) && r.status === 200); i++) await sleep(50);
      await sleep(300);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(130);
      expect(stderr).toContain('interrupted');
      expect(existsSync(join(out, 'images.tar.gz'))).toBe(false);
      expect(await readdir(out)).toEqual([]);
      // Re-running finishes the job.
      proxy.plan.blobBytesPerSecond = undefined;
      const again = await runAirgap(['collect', list, '-o', out, '--plain-http', proxy.host, '--cache', join(dir, 'cache')]);
      expect(again.code).toBe(0);
      expect((await readdir(out)).sort()).toEqual(['airgap-lock.json', 'charms.tar.gz', 'images.tar.gz']);
    } finally {
      await proxy.stop();
    }
  });
});
