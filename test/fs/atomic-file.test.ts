import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirgapError } from '../../src/errors.ts';
import { AtomicFile, describeWriteFailure } from '../../src/fs/atomic-file.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

let tmp: TempDir;
let serial = 0;
beforeAll(async () => {
  tmp = await makeTempDir('airgap-atomic-');
});
afterAll(async () => {
  await tmp.remove();
});

async function freshDir(): Promise<string> {
  const dir = join(tmp.path, `d${serial++}`);
  await mkdir(dir);
  return dir;
}

function systemError(code: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: write failed`);
  err.code = code;
  return err;
}

describe('AtomicFile', () => {
  it('keeps its temporary file hidden beside the final one', () => {
    const file = new AtomicFile('/srv/out/images.tar.gz');
    expect(file.tempPath).toBe(`/srv/out/.images.tar.gz.${process.pid}.partial`);
  });

  it('shows nothing under the final name until commit, then only the final name', async () => {
    const dir = await freshDir();
    const file = new AtomicFile(join(dir, 'airgap-lock.json'));
    const stream = file.stream();
    expect(file.stream()).toBe(stream);
    stream.end('{"name":"kubeflow"}\n');
    await once(stream, 'close');
    expect(await readdir(dir)).toEqual([`.airgap-lock.json.${process.pid}.partial`]);
    await file.commit();
    expect(await readdir(dir)).toEqual(['airgap-lock.json']);
    expect(await readFile(join(dir, 'airgap-lock.json'), 'utf8')).toBe('{"name":"kubeflow"}\n');
  });

  it('replaces an existing file on commit', async () => {
    const dir = await freshDir();
    const path = join(dir, 'charms.tar.gz');
    await writeFile(path, 'old');
    const file = new AtomicFile(path);
    const stream = file.stream();
    stream.end('new');
    await once(stream, 'close');
    expect(await readFile(path, 'utf8')).toBe('old');
    await file.commit();
    expect(await readFile(path, 'utf8')).toBe('new');
  });

  it('removes the temporary file on discard and leaves an existing final file alone', async () => {
    const dir = await freshDir();
    const path = join(dir, 'images.tar.gz');
    await writeFile(path, 'from the last run');
    const file = new AtomicFile(path);
    const stream = file.stream();
    stream.write('half of an archive');
    await file.discard();
    expect(await readdir(dir)).toEqual(['images.tar.gz']);
    expect(await readFile(path, 'utf8')).toBe('from the last run');
  });

  it('discards without ever having opened a stream', async () => {
    const dir = await freshDir();
    await new AtomicFile(join(dir, 'never.tar.gz')).discard();
    expect(await readdir(dir)).toEqual([]);
  });

  // The stream is created (and its file opened) asynchronously: discarding straight away races the open.
  it('leaves no temporary file when discarded while its stream is still opening', async () => {
    const dir = await freshDir();
    for (let i = 0; i < 1000; i++) {
      const file = new AtomicFile(join(dir, `images-${i}.tar.gz`));
      file.stream();
      await file.discard();
    }
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('describeWriteFailure', () => {
  it.each(['ENOSPC', 'EDQUOT'])('turns %s into "no space left", naming the path and what was needed', async (code) => {
    const path = join(tmp.path, 'images.tar.gz');
    const cause = systemError(code);
    const err = await describeWriteFailure(cause, path, 3_400_000_000);
    expect(err).toBeInstanceOf(AirgapError);
    expect(err?.message).toMatch(new RegExp(`^no space left on the disk writing ${path} \\(needs about 3\\.4 GB, [0-9.]+ [KMGT]?B free\\); nothing was left under the final name$`));
    expect(err?.hint).toBe('free some space or choose another directory with -o, then re-run');
    expect(err?.cause).toBe(cause);
  });

  it('leaves out what was needed when it is not known', async () => {
    const path = join(tmp.path, 'charms.tar.gz');
    const err = await describeWriteFailure(systemError('ENOSPC'), path, undefined);
    expect(err?.message).toBe(`no space left on the disk writing ${path}; nothing was left under the final name`);
  });

  it('still says "no space left" when the free space cannot be read', async () => {
    const path = '/nonexistent-airgap-dir/sub/images.tar.gz';
    const err = await describeWriteFailure(systemError('ENOSPC'), path, 1_000);
    expect(err?.message).toBe(`no space left on the disk writing ${path} (needs about 1.0 KB); nothing was left under the final name`);
  });

  it.each(['EACCES', 'EPERM', 'EROFS'])('turns %s into "permission denied", naming the path', async (code) => {
    const cause = systemError(code);
    const err = await describeWriteFailure(cause, '/srv/readonly/images.tar.gz', 10);
    expect(err).toBeInstanceOf(AirgapError);
    expect(err?.message).toBe('cannot write /srv/readonly/images.tar.gz: permission denied');
    expect(err?.hint).toBe('choose a writable directory with -o');
    expect(err?.cause).toBe(cause);
  });

  it.each<[string, unknown]>([
    ['ENOENT', systemError('ENOENT')],
    ['EIO', systemError('EIO')],
    ['an error without code', new Error('registry went away')],
    ['a numeric code', { code: 28 }],
    ['a string', 'ENOSPC'],
    ['null', null],
    ['undefined', undefined],
  ])('leaves %s to the caller', async (_name, err) => {
    expect(await describeWriteFailure(err, '/tmp/x.tar.gz', 10)).toBeUndefined();
  });
});
