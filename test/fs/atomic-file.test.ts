import { once } from 'node:events';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirgapError } from '../../src/errors.ts';
import { AtomicFile, describeWriteFailure } from '../../src/fs/atomic-file.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-atomic-');
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
    const dir = await tmp.dir();
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

  it('writeText: the whole file at once, with the mode asked for, and no temporary file left', async () => {
    const dir = await tmp.dir();
    const path = join(dir, 'hosts.toml');
    await new AtomicFile(path).writeText('server = "https://reg.local"\n', { mode: 0o640 });
    expect(await readdir(dir)).toEqual(['hosts.toml']);
    expect(await readFile(path, 'utf8')).toBe('server = "https://reg.local"\n');
    expect((await stat(path)).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('writeText: a failed move into place removes the temporary file and leaves what was there', async () => {
    const dir = await tmp.dir();
    // A directory that is not empty under the final name: rename(2) refuses to replace it.
    const path = join(dir, 'airgap-lock.json');
    await mkdir(path);
    await writeFile(join(path, 'keep'), 'kept');
    const err = await new AtomicFile(path).writeText('{}\n').catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toMatch(/^(EISDIR|ENOTEMPTY|EEXIST)$/);
    expect(await readdir(dir)).toEqual(['airgap-lock.json']);
    expect(await readdir(path)).toEqual(['keep']);
  });

  it('writeText: a write that fails leaves nothing, under either name', async () => {
    const dir = await tmp.dir();
    const err = await new AtomicFile(join(dir, 'gone', 'bundle.airgap.yaml')).writeText('applications: {}\n').catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes a temporary name of the caller\'s, for a caller that sweeps its own', async () => {
    const dir = await tmp.dir();
    await mkdir(join(dir, 'tmp'));
    const file = new AtomicFile(join(dir, 'index.json'), join(dir, 'tmp', 'w1'));
    expect(file.tempPath).toBe(join(dir, 'tmp', 'w1'));
    await file.writeText('{"schemaVersion":2}\n');
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect(await readFile(join(dir, 'index.json'), 'utf8')).toBe('{"schemaVersion":2}\n');
  });

  it('replaces an existing file on commit', async () => {
    const dir = await tmp.dir();
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
    const dir = await tmp.dir();
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
    const dir = await tmp.dir();
    await new AtomicFile(join(dir, 'never.tar.gz')).discard();
    expect(await readdir(dir)).toEqual([]);
  });

  // The stream is created (and its file opened) asynchronously: discarding straight away races the open.
  it('leaves no temporary file when discarded while its stream is still opening', async () => {
    const dir = await tmp.dir();
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
