import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIRGAP_BIN, runAirgap } from '../support/airgap-cli.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';
import { aliasBomb, aliasHeavyManifests } from '../support/yaml-bombs.ts';

// The YAML of issue 16 through the real CLI: a 999-byte alias bomb once hung collect and deploy, and
// Ctrl-C could not stop them. The failure comes before any connection, so no server is needed.
let tmp: TempDir;
let serial = 0;

beforeAll(async () => {
  tmp = await makeTempDir('airgap-hostile-yaml-');
});

afterAll(async () => {
  await tmp?.remove();
});

async function caseDir(): Promise<string> {
  const dir = join(tmp.path, `case-${serial++}`);
  await mkdir(dir);
  return dir;
}

describe('an alias bomb', () => {
  it('is refused by collect with one line naming the file and line, and nothing is written', async () => {
    const dir = await caseDir();
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
    const dir = await caseDir();
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
    const dir = await caseDir();
    const release = join(dir, 'big.yaml');
    // About 10 MB of Deployments sharing blocks through aliases, the bomb last: seconds of parsing, so the
    // interrupt lands in the middle, and an interrupt that were not honoured would end in the bomb's error.
    await writeFile(release, `${aliasHeavyManifests(8000)}---\n${aliasBomb()}`);
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
