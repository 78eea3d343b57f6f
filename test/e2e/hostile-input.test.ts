import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { AIRGAP_BIN, runAirgap } from '../support/airgap-cli.ts';
import { freePort } from '../support/process.ts';
import { useTempDir } from '../support/tmp.ts';
import { aliasBomb, aliasHeavyManifests } from '../support/yaml-bombs.ts';
import { sleep } from '../../src/util/sleep.ts';

// Hostile input of issue 16 through the real CLI. A 999-byte YAML alias bomb once hung collect and deploy,
// and Ctrl-C could not stop them; raw escape, NUL and newline bytes of archive member names reached the
// terminal, where a name can retitle or clear it, forge a line of output, or read backwards. The failures
// come before any connection, so no server is needed.
const HOSTILE = `\u001b]0;pwned\u0007\u001b[2J\u0000\nerror: forged line \u202eexe.txt`;
const ESCAPED = '\\u001b]0;pwned\\u0007\\u001b[2J\\u0000\\nerror: forged line \\u202eexe.txt';
// What acts on a terminal: C0 but the newline that ends our lines, DEL, C1, bidirectional controls.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const tmp = useTempDir('airgap-hostile-');
describe('an alias bomb', () => {
  it('is refused by collect with one line naming the file and line, and nothing is written', async () => {
    const dir = await tmp.dir('case');
    const bomb = join(dir, 'bomb.yaml');
    await writeFile(bomb, aliasBomb());
    const result = await runAirgap(['collect', bomb, '-o', join(dir, 'out')], { cwd: dir });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: ${bomb.replaceAll('.', '\\.')}:7:\\d+: YAML aliases here expand the file past 100000 nodes`));
    expect(lines[0]).toContain('(write the repeated values out instead of aliasing them)');
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['bomb.yaml']);
  });

  it('is refused by deploy before anything is rewritten, proved or deployed', async () => {
    const dir = await tmp.dir('case');
    await writeFile(join(dir, 'airgap.yaml'), 'name: bomb\nplaceholder: 172.17.0.2:5000\nmanifests: [k8s.yaml]\n');
    await writeFile(join(dir, 'k8s.yaml'), aliasBomb());
    // Port 9 (discard) on loopback: were the registry ever asked, the error would say so.
    const result = await runAirgap(['deploy', join(dir, 'airgap.yaml'), '--registry', '127.0.0.1:9', '--plain-http', '127.0.0.1:9', '--dry-run'], {
      cwd: dir,
      env: { KUBECONFIG: '', HOME: dir, PATH: '/nonexistent' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^error: ${join(dir, 'k8s.yaml').replaceAll('.', '\\.')}:7:\\d+: YAML aliases here expand the file past`));
    expect(result.stdout).toBe('');
    expect((await readdir(dir)).sort()).toEqual(['airgap.yaml', 'k8s.yaml']);
  });
});

describe('Ctrl-C during the scan of a large alias-heavy file', () => {
  it('stops collect with exit 130 within a second, leaving nothing', async () => {
    const dir = await tmp.dir('case');
    const release = join(dir, 'big.yaml');
    // About 10 MB of Deployments sharing blocks through aliases, the bomb last: seconds of parsing, so the
    // interrupt lands in the middle, and an interrupt that were not honoured would end in the bomb's error.
    const text = `${aliasHeavyManifests(8000)}---\n${aliasBomb()}`;
    await writeFile(release, text);
    const out = join(dir, 'out');
    const child = spawn(process.execPath, [AIRGAP_BIN, 'collect', release, '-o', out], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // collect says which file it reads before it starts on it.
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes(`reading ${release}\n`)) resolve();
      });
      void closed.then(() => reject(new Error(`collect ended before it read the release: ${stderr}`)));
    });
    // Reading the file costs a few milliseconds of CPU; the parse, seconds. Once collect has used a fifth
    // of a second of CPU after saying it reads the file, it is parsing: the interrupt must stop synchronous
    // work, not an await between two reads. (/proc/PID/stat fields 14 and 15: user and system ticks, 100 a second.)
    const cpuTicks = async (): Promise<number> => {
      const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    };
    const parsingFrom = (await cpuTicks()) + 20;
    while ((await cpuTicks()) < parsingFrom) await sleep(5);
    const interruptedAt = performance.now();
    child.kill('SIGINT');
    const code = await closed;
    const tookMs = performance.now() - interruptedAt;
    expect(code).toBe(130);
    expect(stderr).toContain('interrupted');
    expect(stderr).not.toContain('alias');
    // The bar: the work yields every few milliseconds, so a second is a wide margin even on a busy machine.
    expect(tookMs).toBeLessThan(1000);
    expect(existsSync(out)).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['big.yaml']);
  });
});

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
    const dir = await tmp.dir('case');
    const archive = join(dir, 'images.tar.gz');
    await truncatedArchive(archive, HOSTILE);
    const temp = join(dir, 'tmp');
    await mkdir(temp);
    // Node's compile cache, which is not serve's, keeps its directory elsewhere: the temporary directory is serve's alone.
    const result = await runAirgap(['serve', archive, '--listen', `127.0.0.1:${await freePort()}`], { env: { TMPDIR: temp, NODE_COMPILE_CACHE: join(dir, 'compile-cache') } });
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
    const dir = await tmp.dir('case');
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
