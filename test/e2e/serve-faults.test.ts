import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/process.ts';
import { sha256Digest } from '../support/skopeo.ts';
import { useTempDir } from '../support/tmp.ts';
import { startServeCli, type ServeProcess } from './serve-cli.ts';

// Hostile and broken requests against `airgap serve --writable` run as its own process: each gets an answer
// (or a closed connection), the process never exits, nothing is left in the store, and the next request works.
const tmp = useTempDir('airgap-serve-faults-');

/** A request with a chunked body (no Content-Length) of `total` bytes, sent until the server answers. */
function chunkedPut(url: string, total: number, contentType: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' } }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    let answered = false;
    req.on('error', reject);
    const chunk = Buffer.alloc(256 * 1024, 0x7b);
    let sent = 0;
    const pump = (): void => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

async function expectServing(server: ServeProcess): Promise<void> {
  const res = await fetch(`${server.url}/v2/`);
  expect(res.status).toBe(200);
  expect(server.process.hasExited(), server.process.logs()).toBe(false);
}

async function pushSmallBlob(server: ServeProcess): Promise<void> {
  const bytes = randomBytes(1000);
  const res = await fetch(`${server.url}/v2/after/blobs/uploads/?digest=${sha256Digest(bytes)}`, { method: 'POST', body: bytes });
  expect(res.status).toBe(201);
}

describe('an oversized manifest sent chunked (no Content-Length)', () => {
  let server: ServeProcess;
  beforeAll(async () => {
    server = await startServeCli(['--writable', '--store', join(tmp.path, 'store-413')]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('gets 413 SIZE_INVALID, five times over, and the server goes on serving', async () => {
    for (let i = 0; i < 5; i++) {
      const answer = await chunkedPut(`${server.url}/v2/hostile/manifests/latest`, 60 * 1024 * 1024, 'application/vnd.oci.image.manifest.v1+json');
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ errors: [{ code: 'SIZE_INVALID' }] });
      await expectServing(server);
    }
    await pushSmallBlob(server);
    expect(server.process.logs()).toMatch(/ 127\.0\.0\.1 - PUT \/v2\/hostile\/manifests\/latest 413 /);
  });
});

describe('a full disk under the store during uploads (a 4 MiB tmpfs)', () => {
  let mountPoint: string;
  let mounted = false;
  let server: ServeProcess;
  const whyNot = process.getuid?.() === 0 ? undefined : 'mounting a tmpfs needs root';

  beforeAll(async () => {
    if (whyNot !== undefined && process.env['CI'] === undefined) return;
    mountPoint = join(tmp.path, 'small-disk');
    await mkdir(mountPoint);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'airgap-test-full', mountPoint]);
    mounted = true;
    // cleanupDir: if this process dies, the server's watchdog unmounts it.
    server = await startServeCli(['--writable', '--store', mountPoint], { cleanupDir: mountPoint });
  });
  afterAll(async () => {
    await server?.stop();
    if (mounted) await run('umount', [mountPoint]);
  });

  const tempFiles = (): Promise<string[]> => readdir(join(mountPoint, 'tmp'));

  it.skipIf(whyNot !== undefined && process.env['CI'] === undefined)('answers 507 to a monolithic upload, keeps no temporary file, and goes on serving', async () => {
    const bytes = randomBytes(6 * 1024 * 1024);
    const res = await fetch(`${server.url}/v2/big/blobs/uploads/?digest=${sha256Digest(bytes)}`, { method: 'POST', body: bytes });
    expect(res.status).toBe(507);
    expect(await res.text()).toContain('no space left');
    expect(await tempFiles()).toEqual([]);
    expect((await fetch(`${server.url}/v2/big/blobs/${sha256Digest(bytes)}`, { method: 'HEAD' })).status).toBe(404);
    await expectServing(server);
    await pushSmallBlob(server);
    expect(server.process.logs()).toMatch(/warning: POST \/v2\/big\/blobs\/uploads\/\S+: the store's disk is full/);
  });

  it.skipIf(whyNot !== undefined && process.env['CI'] === undefined)('ends a chunked upload whose chunk does not fit: its session and file are gone', async () => {
    const started = await fetch(`${server.url}/v2/big/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location') ?? '', server.url).toString();
    const chunk = randomBytes(6 * 1024 * 1024);
    const patched = await fetch(location, { method: 'PATCH', body: chunk, headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${chunk.length - 1}` } });
    expect(patched.status).toBe(507);
    expect(await tempFiles()).toEqual([]);
    expect((await fetch(location)).status).toBe(404);
    await expectServing(server);
    await pushSmallBlob(server);
  });
});
