import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirgapError, CancelledError } from '../../src/errors.ts';
import { OutputSet } from '../../src/fs/output-set.ts';
import { useTempDir } from '../support/tmp.ts';

// The kill-at-every-step proof runs the real CLI (test/e2e/collect-output-set.test.ts); these are the
// module's own promises, in process.
const NAMES = ['a.tar.gz', 'b.tar.gz', 'lock.json'];
const tmp = useTempDir('airgap-output-set-unit-');
/** A directory holding an earlier set whose files all read `old`. */
async function withEarlierSet(): Promise<string> {
  return tmp.files('earlier', Object.fromEntries(NAMES.map((name) => [name, `old ${name}`])));
}

async function contents(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) found[name] = await readFile(join(dir, name), 'utf8');
  return found;
}

const EARLIER = Object.fromEntries(NAMES.map((n) => [n, `old ${n}`]));
const NEW = Object.fromEntries(NAMES.map((n) => [n, `new ${n}`]));

async function stageNewSet(set: OutputSet): Promise<void> {
  for (const name of NAMES) await writeFile(set.path(name), `new ${name}`);
}

describe('OutputSet', () => {
  it('replaces the earlier set on commit and leaves nothing else', async () => {
    const dir = await withEarlierSet();
    const set = await OutputSet.open(dir, NAMES);
    await stageNewSet(set);
    expect(await readFile(join(dir, 'a.tar.gz'), 'utf8')).toBe('old a.tar.gz');
    await set.commit();
    await set.discard();
    expect(await contents(dir)).toEqual(NEW);
  });

  it('puts the earlier set back when stopped half-way through the moves, and says why', async () => {
    const dir = await withEarlierSet();
    const set = await OutputSet.open(dir, NAMES);
    await stageNewSet(set);
    // Checked before the commit and before each move: the third check comes after the first file moved.
    const signal = new AbortController().signal;
    let checks = 0;
    signal.throwIfAborted = () => {
      if (++checks === 3) throw new CancelledError('interrupted');
    };
    await expect(set.commit(signal)).rejects.toBeInstanceOf(CancelledError);
    expect(checks).toBe(3);
    expect(await contents(dir)).toEqual(EARLIER);
  });

  it('changes nothing when stopped before the commit, and discard leaves no staging behind', async () => {
    const dir = await withEarlierSet();
    const set = await OutputSet.open(dir, NAMES);
    await stageNewSet(set);
    const controller = new AbortController();
    controller.abort(new CancelledError('interrupted'));
    await expect(set.commit(controller.signal)).rejects.toBeInstanceOf(CancelledError);
    await set.discard();
    expect(await contents(dir)).toEqual(EARLIER);
  });

  it('refuses to write beside a staging directory whose process runs, and settles it once that process is gone', async () => {
    const dir = await withEarlierSet();
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    const pid = other.pid;
    if (pid === undefined) throw new Error('sleep did not start');
    // Killed before it wrote its owner file: the pid in the name is what tells.
    const abandoned = join(dir, `.airgap-staging-${pid}-0000`);
    await mkdir(abandoned);
    await writeFile(join(abandoned, 'a.tar.gz'), 'half written');
    const refused = await OutputSet.open(dir, NAMES).then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(AirgapError);
    expect((refused as AirgapError).message).toBe(`another airgap process (pid ${pid}) is writing into ${dir} (${abandoned})`);
    expect((refused as AirgapError).hint).toContain(`if no such process runs any more, remove ${abandoned}`);
    other.kill('SIGKILL');
    await once(other, 'exit');
    const set = await OutputSet.open(dir, NAMES);
    await set.discard();
    expect(await contents(dir)).toEqual(EARLIER);
  });

  it('refuses to replace a directory that stands under a final name, changing nothing', async () => {
    const dir = await withEarlierSet();
    await rm(join(dir, 'b.tar.gz'));
    await mkdir(join(dir, 'b.tar.gz', 'keep-me'), { recursive: true });
    const set = await OutputSet.open(dir, NAMES);
    await stageNewSet(set);
    await expect(set.commit()).rejects.toThrow(`cannot write ${join(dir, 'b.tar.gz')}: a directory of that name is in the way; nothing was replaced`);
    await set.discard();
    expect((await readdir(dir)).sort()).toEqual(NAMES);
    expect(await readdir(join(dir, 'b.tar.gz'))).toEqual(['keep-me']);
    expect(await readFile(join(dir, 'a.tar.gz'), 'utf8')).toBe('old a.tar.gz');
  });

  it('takes the files it was told to remove away with the commit, and puts them back when the commit is undone', async () => {
    const dir = await withEarlierSet();
    await writeFile(join(dir, 'a.tar.gz.000'), 'old part');
    const committed = await OutputSet.open(dir, ['b.tar.gz', 'lock.json']);
    await writeFile(join(committed.stagingDir, 'a.tar.gz.000'), 'new part 0');
    await writeFile(join(committed.stagingDir, 'a.tar.gz.001'), 'new part 1');
    committed.add('a.tar.gz.000');
    committed.add('a.tar.gz.001');
    committed.remove('a.tar.gz');
    for (const name of ['b.tar.gz', 'lock.json']) await writeFile(committed.path(name), `new ${name}`);
    await committed.commit();
    expect(await contents(dir)).toEqual({ 'a.tar.gz.000': 'new part 0', 'a.tar.gz.001': 'new part 1', 'b.tar.gz': 'new b.tar.gz', 'lock.json': 'new lock.json' });

    const undone = await withEarlierSet();
    const set = await OutputSet.open(undone, ['b.tar.gz', 'lock.json']);
    await writeFile(join(set.stagingDir, 'a.tar.gz.000'), 'new part 0');
    set.add('a.tar.gz.000');
    set.remove('a.tar.gz');
    for (const name of ['b.tar.gz', 'lock.json']) await writeFile(set.path(name), `new ${name}`);
    // Stopped at the last move (the lock): the removed file and the earlier files come back.
    const signal = new AbortController().signal;
    let checks = 0;
    signal.throwIfAborted = () => {
      if (++checks === 5) throw new CancelledError('interrupted');
    };
    await expect(set.commit(signal)).rejects.toBeInstanceOf(CancelledError);
    expect(await contents(undone)).toEqual(EARLIER);
  });
});
