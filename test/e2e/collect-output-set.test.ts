import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from 'vitest';
import { AIRGAP_BIN, runAirgap, runCommand, type CliResult } from '../support/airgap-cli.ts';
import { pushTestImages } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { useTempDir } from '../support/tmp.ts';
import { CHARMS_ARCHIVE, IMAGES_ARCHIVE } from '../../src/collect/collect.ts';
import { LOCK_FILE_NAME, type Lock } from '../../src/lock.ts';
import { settleConcurrently } from '../../src/util/concurrency.ts';

// Issue 16: a Ctrl-C at the moment of renaming left the new images.tar.gz beside the old lock. Here a
// collect over an earlier output is killed at every rename, link, unlink, rmdir and mkdir it makes:
// strace delivers a real SIGKILL or SIGINT on entry to the Nth such call. After each, the directory holds
// the complete earlier set or the complete new one, the lock matching its archives by sha256; after a
// SIGKILL that is true once the next run has started, and nothing of the killed run is left.
const OUTPUTS = [CHARMS_ARCHIVE, IMAGES_ARCHIVE, LOCK_FILE_NAME].sort();
const SYSCALLS = ['rename', 'link', 'unlink', 'rmdir', 'mkdir'] as const;
// The blob cache's own renames (concurrent downloads, in no fixed order) would move the Nth call from run to
// run; its kill-safety is collect-cache.test.ts's. Here the output set's calls alone are counted.
const NO_CACHE = ['--no-cache'];
const STRACE_WORKS = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=rename', 'true']).status === 0;
const TRACED_ENV = {
  ...process.env,
  // strace counts calls per thread: with one libuv worker, every file operation is counted in one sequence.
  UV_THREADPOOL_SIZE: '1',
  // The calls counted are collect's own: Node's compile cache makes its directory at start, before airgap runs.
  NODE_DISABLE_COMPILE_CACHE: '1',
};

const tmp = useTempDir('airgap-output-set-');
let registry: RunningRegistry;
/** The release of the earlier output, the release collected over it, and one that fails once the output directory is opened. */
let oldRelease: string;
let newRelease: string;
let brokenRelease: string;
/** A copy of the earlier output, put back before each run. */
let earlier: string;
let earlierHashes: Record<string, string>;
beforeAll(async () => {
  registry = await startRegistry();
  await pushTestImages(registry, [
    { repository: 'set/a', tag: '1', layers: [{ seed: 'set-a', sizeBytes: 200_000 }] },
    { repository: 'set/b', tag: '1', layers: [{ seed: 'set-b', sizeBytes: 200_000 }] },
  ]);
  const release = async (name: string, images: string[]): Promise<string> => {
    const dir = join(tmp.path, name);
    await mkdir(dir);
    await writeFile(join(dir, 'images.txt'), images.map((i) => `${registry.host}/${i}\n`).join(''));
    return join(dir, 'images.txt');
  };
  oldRelease = await release('old', ['set/a:1']);
  newRelease = await release('new', ['set/a:1', 'set/b:1']);
  brokenRelease = await release('broken', ['set/missing:1']);
  earlier = join(tmp.path, 'earlier');
  const first = await runAirgap(['collect', oldRelease, '-o', earlier, '--plain-http', registry.host]);
  if (first.code !== 0) throw new Error(first.stderr);
  earlierHashes = await hashes(earlier);
});

afterAll(async () => {
  await registry?.stop();
});

async function sha256(file: string): Promise<string> {
  return `sha256:${createHash('sha256').update(await readFile(file)).digest('hex')}`;
}

async function hashes(dir: string): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(OUTPUTS.map(async (name) => [name, await sha256(join(dir, name))] as const)));
}

/** Which complete set `dir` holds; fails the test on anything else (a mix, a missing file, a leftover). */
async function setIn(dir: string, label: string, fresh: boolean, expect: ExpectStatic): Promise<'earlier' | 'new' | 'none'> {
  const names = (await readdir(dir)).sort();
  if (fresh && names.length === 0) return 'none';
  expect(names, label).toEqual(OUTPUTS);
  const found = await hashes(dir);
  if (!fresh && JSON.stringify(found) === JSON.stringify(earlierHashes)) return 'earlier';
  const lock = JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), 'utf8')) as Lock;
  expect(lock.images.map((i) => i.path).sort(), label).toEqual(['set/a:1', 'set/b:1']);
  expect(lock.archives[IMAGES_ARCHIVE]?.sha256, label).toBe(found[IMAGES_ARCHIVE]);
  expect(lock.archives[CHARMS_ARCHIVE]?.sha256, label).toBe(found[CHARMS_ARCHIVE]);
  return 'new';
}

/** collect of the new release into `out`, under strace: `signal` on entry to the `n`th `syscall`. */
function killedCollect(out: string, syscall: string, n: number, signal: 'SIGKILL' | 'SIGINT'): Promise<CliResult> {
  return runCommand('strace', [
    '-f', '-qq', '-o', '/dev/null', '-e', `trace=${syscall}`, '-e', `inject=${syscall}:signal=${signal}:when=${n}`,
    process.execPath, AIRGAP_BIN, 'collect', newRelease, '-o', out, '--plain-http', registry.host, ...NO_CACHE,
  ], { env: TRACED_ENV });
}

type Syscall = (typeof SYSCALLS)[number];

/** How many times an uninterrupted collect of the new release calls each syscall, from one traced run. */
async function countCalls(fresh: boolean): Promise<Record<Syscall, number>> {
  const out = await outputDir(fresh);
  const log = join(await tmp.dir('strace'), 'strace.log');
  const result = await runCommand('strace', ['-f', '-qq', '-o', log, '-e', `trace=${SYSCALLS.join(',')}`, process.execPath, AIRGAP_BIN, 'collect', newRelease, '-o', out, '--plain-http', registry.host, ...NO_CACHE], { env: TRACED_ENV });
  expect(result.code, result.stderr).toBe(0);
  // Counted per thread and per syscall, as the injection counts them.
  const perThread = new Map<string, number>();
  for (const line of (await readFile(log, 'utf8')).split('\n')) {
    const match = /^(\d+)\s+(\w+)\(/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    const key = `${match[2]} ${match[1]}`;
    perThread.set(key, (perThread.get(key) ?? 0) + 1);
  }
  const most = (syscall: Syscall): number => Math.max(0, ...[...perThread].filter(([key]) => key.startsWith(`${syscall} `)).map(([, n]) => n));
  return Object.fromEntries(SYSCALLS.map((s) => [s, most(s)])) as Record<Syscall, number>;
}

/** Both runs over an earlier output make the same calls: they are counted once for both. */
const counted = new Map<boolean, Promise<Record<Syscall, number>>>();
function callsOf(fresh: boolean): Promise<Record<Syscall, number>> {
  let counting = counted.get(fresh);
  if (counting === undefined) {
    counting = countCalls(fresh);
    counted.set(fresh, counting);
  }
  return counting;
}

async function outputDir(fresh: boolean): Promise<string> {
  const out = await tmp.dir('out');
  if (!fresh) await cp(earlier, out, { recursive: true });
  return out;
}

// Every kill point is a run of its own, in a directory of its own: the three series run at once, and in
// each two points at a time, so the machine's cores are busy rather than waiting on one process start after another.
describe.skipIf(!STRACE_WORKS && process.env['CI'] === undefined).concurrent('collect killed while it replaces an earlier output', () => {
  for (const [signal, fresh] of [['SIGKILL', false], ['SIGINT', false], ['SIGKILL', true]] as const) {
    it(`${signal} at every ${SYSCALLS.join(', ')}${fresh ? ' into an empty directory' : ' over an earlier output'}: one complete set, always`, async ({ expect }) => {
      const calls = await callsOf(fresh);
      for (const syscall of SYSCALLS) expect(calls[syscall], syscall).toBeGreaterThan(0);
      const points = SYSCALLS.flatMap((syscall) => Array.from({ length: calls[syscall] }, (_, i) => ({ syscall, n: i + 1 })));
      const outcomes = await settleConcurrently(points, 2, async ({ syscall, n }) => {
        const label = `${signal} at ${syscall} #${n}`;
        const out = await outputDir(fresh);
        const killed = await killedCollect(out, syscall, n, signal);
        if (signal === 'SIGKILL') {
          expect(killed.signal, label).toBe('SIGKILL');
          // The next run settles what the killed one left, then fails on its own release: nothing of its own is written.
          const next = await runAirgap(['collect', brokenRelease, '-o', out, '--plain-http', registry.host]);
          expect(next.code, label).toBe(1);
          expect(next.stderr, label).toContain('set/missing:1');
        } else {
          expect([0, 130], `${label}: ${killed.stderr}`).toContain(killed.code);
          if (killed.code === 130) expect(killed.stderr, label).toContain('interrupted');
        }
        const found = await setIn(out, label, fresh, expect);
        await rm(out, { recursive: true, force: true });
        return found;
      });
      const failed = outcomes.find((o) => o.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      const seen = new Set(outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])));
      // Some kills came before the lock moved, some after: both outcomes were seen, and nothing else.
      expect([...seen].sort()).toEqual(fresh ? ['new', 'none'] : ['earlier', 'new']);
    }, 600_000);
  }
});
