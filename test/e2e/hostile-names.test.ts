import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { freePort } from '../support/process.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

// Issue 16: raw escape, NUL and newline bytes of archive member names reached the terminal. A name can
// retitle or clear the operator's terminal, forge a line of output, or read backwards; through the
// commands, every one of them now shows escaped.
const HOSTILE = `\u001b]0;pwned\u0007\u001b[2J\u0000\nerror: forged line \u202eexe.txt`;
const ESCAPED = '\\u001b]0;pwned\\u0007\\u001b[2J\\u0000\\nerror: forged line \\u202eexe.txt';
// What acts on a terminal: C0 but the newline that ends our lines, DEL, C1, bidirectional controls.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let tmp: TempDir;
let serial = 0;

beforeAll(async () => {
  tmp = await makeTempDir('airgap-hostile-names-');
});

afterAll(async () => {
  await tmp?.remove();
});

async function caseDir(): Promise<string> {
  const dir = join(tmp.path, `case-${serial++}`);
  await mkdir(dir);
  return dir;
}

/** A gzip'd tar whose one member has a name (a PAX path, so it may hold any byte) with `name` in it, cut off inside that member. */
async function truncatedArchive(file: string, name: string): Promise<void> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve) => tar.on('end', () => resolve()));
  tar.entry({ name: `blobs/sha256/${'e'.repeat(120)}${name}`, size: 200_000 }, randomBytes(200_000));
  tar.finalize();
  await ended;
  const gz = gzipSync(Buffer.concat(chunks));
  await writeFile(file, gz.subarray(0, Math.floor(gz.length * 0.75)));
}

describe('a hostile archive member name', () => {
  it('serve: one error line with the name escaped; nothing left in the temporary directory', async () => {
    const dir = await caseDir();
    const archive = join(dir, 'images.tar.gz');
    await truncatedArchive(archive, HOSTILE);
    const temp = join(dir, 'tmp');
    await mkdir(temp);
    const result = await runAirgap(['serve', archive, '--listen', `127.0.0.1:${await freePort()}`], { env: { TMPDIR: temp } });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: ${archive.replaceAll('.', '\\.')} is truncated or corrupt at byte \\d+ \\(while reading blobs/sha256/e+`));
    expect(lines[0]).toContain(ESCAPED);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(RAW_CONTROL);
    expect(result.stdout.split('\n').some((line) => line.startsWith('error:'))).toBe(false);
    expect(await readdir(temp)).toEqual([]);
  });
});

describe('a hostile image name in a release', () => {
  it('collect: one error line naming the file and line, the name escaped; nothing written', async () => {
    const dir = await caseDir();
    const list = join(dir, 'images.txt');
    // One reference a line: everything but the newline.
    await writeFile(list, `127.0.0.1:5000/ok:1\n127.0.0.1:5000/evil${HOSTILE.replace('\n', '')}:1\n`);
    const result = await runAirgap(['collect', list, '-o', join(dir, 'out')]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`error: ${list}:2`);
    expect(lines[0]).toContain(`"127.0.0.1:5000/evil${ESCAPED.replace('\\n', '')}:1"`);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(RAW_CONTROL);
    expect(await readdir(dir)).toEqual(['images.txt']);
  });
});
