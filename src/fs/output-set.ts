/**
 * Files that are only good together (images.tar.gz, charms.tar.gz and the airgap-lock.json that records
 * their sha256) replaced all together or not at all. They are written into a staging directory beside
 * their final place, then moved in one by one, the last name (the lock) last: once it is in place the
 * set is committed. Before each move, the file it replaces is linked into the staging directory, so
 * the earlier set can be put back if anything stops the commit.
 *
 * A process killed outright (SIGKILL, power cut) cannot put anything back: the next OutputSet opened on
 * the same directory finds the staging directory it left and finishes its job — removes it when the
 * commit never began, puts the earlier set back when it began and the last name had not moved, keeps
 * the new set when it had. A staging directory whose process still runs is left alone.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { link, lstat, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { AirgapError, messageOf } from '../errors.ts';
import { AtomicFile } from './atomic-file.ts';

const STAGING_PREFIX = '.airgap-staging-';
const OWNER_FILE = 'owner.json';
const COMMIT_FILE = 'commit.json';
const PREVIOUS_DIR = 'previous';

/** Who made a staging directory: enough to tell whether that process still runs, even after a pid is reused. */
interface Owner {
  host: string;
  pid: number;
  /** /proc/sys/kernel/random/boot_id and the process's start time in /proc/PID/stat; empty off Linux. */
  boot: string;
  start: string;
}

/** Written when the commit begins: from then on the staging directory says how to undo or finish it. */
interface CommitRecord {
  names: string[];
  /** Files of the earlier set this one does not have (an archive's parts from an earlier --split). */
  removed?: string[];
}

export class OutputSet {
  readonly dir: string;
  readonly stagingDir: string;
  readonly #names: string[];
  readonly #removed: string[] = [];
  #committed = false;

  private constructor(dir: string, stagingDir: string, names: readonly string[]) {
    this.dir = dir;
    this.stagingDir = stagingDir;
    this.#names = [...names];
  }

  /**
   * A new set of `names` for `dir` (which must exist), the last name being the one that commits it.
   * Whatever an earlier, killed, run left in `dir` is settled first.
   */
  static async open(dir: string, names: readonly string[]): Promise<OutputSet> {
    if (names.length === 0) throw new Error('an output set needs at least one name');
    await settleAbandoned(dir);
    const stagingDir = join(dir, `${STAGING_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(stagingDir);
    const owner: Owner = { host: hostname(), pid: process.pid, ...(await processIdentity(process.pid)) };
    await writeFile(join(stagingDir, OWNER_FILE), `${JSON.stringify(owner)}\n`);
    return new OutputSet(dir, stagingDir, names);
  }

  /** Where to write `name`: in the staging directory, complete before commit. */
  path(name: string): string {
    if (!this.#names.includes(name)) throw new Error(`${name} is not one of the output set's names`);
    return join(this.stagingDir, name);
  }

  /** One more file of the set, whose name was known only once written (a part of a split archive); moved in before the last name. */
  add(name: string): void {
    if (!this.#names.includes(name)) this.#names.splice(this.#names.length - 1, 0, name);
  }

  /** A file in the directory that the new set replaces with nothing: taken away at commit, put back if the commit is undone. */
  remove(name: string): void {
    if (!this.#names.includes(name) && !this.#removed.includes(name)) this.#removed.push(name);
  }

  /**
   * Move every file into place, the last name last. Stopped before that (by `signal`, or a failure), the
   * earlier files are put back, and the reason is thrown.
   */
  async commit(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    for (const name of this.#names) {
      if (!(await exists(join(this.stagingDir, name)))) throw new Error(`output set: ${name} was not written before the commit`);
      // A directory under a final name would be moved aside and removed with the staging directory.
      const current = await lstat(join(this.dir, name)).catch((err: unknown) => (errorCode(err) === 'ENOENT' ? undefined : Promise.reject(err)));
      if (current?.isDirectory() === true) {
        throw new AirgapError(`cannot write ${join(this.dir, name)}: a directory of that name is in the way; nothing was replaced`, { hint: 'move it away or choose another directory with -o' });
      }
    }
    await new AtomicFile(join(this.stagingDir, COMMIT_FILE)).writeText(`${JSON.stringify({ names: [...this.#names], removed: [...this.#removed] } satisfies CommitRecord)}\n`);
    await syncDir(this.stagingDir);
    await mkdir(join(this.stagingDir, PREVIOUS_DIR));
    try {
      for (const name of this.#removed) {
        signal?.throwIfAborted();
        await keepPrevious(this.dir, this.stagingDir, name);
        await rm(join(this.dir, name), { force: true });
      }
      for (const name of this.#names) {
        signal?.throwIfAborted();
        await keepPrevious(this.dir, this.stagingDir, name);
        await rename(join(this.stagingDir, name), join(this.dir, name));
      }
    } catch (err: unknown) {
      await undo(this.dir, this.stagingDir, this.#names, this.#removed);
      await removeStaging(this.stagingDir);
      throw err;
    }
    this.#committed = true;
    await syncDir(this.dir);
    await removeStaging(this.stagingDir);
  }

  /** Drop the staging directory and what is in it; the final names are untouched. A no-op after commit. */
  async discard(): Promise<void> {
    if (this.#committed) return;
    await settle(this.dir, this.stagingDir);
  }
}

/** Link the file `name` is about to replace into the staging directory; moved there where links are not allowed (FAT). */
async function keepPrevious(dir: string, stagingDir: string, name: string): Promise<void> {
  const current = join(dir, name);
  const kept = join(stagingDir, PREVIOUS_DIR, name);
  try {
    await link(current, kept);
  } catch (err: unknown) {
    const code = errorCode(err);
    if (code === 'ENOENT') return;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK' && code !== 'EXDEV') throw err;
    await rename(current, kept);
  }
  await syncDir(join(stagingDir, PREVIOUS_DIR));
}

/**
 * Put the earlier set back: each name, last first, has its new file moved back into the staging directory
 * and the kept one moved into place. Each step leaves a state this function can resume from.
 */
async function undo(dir: string, stagingDir: string, names: readonly string[], removed: readonly string[]): Promise<void> {
  for (const name of [...names].reverse()) {
    const staged = join(stagingDir, name);
    const final = join(dir, name);
    const kept = join(stagingDir, PREVIOUS_DIR, name);
    if (!(await exists(staged)) && (await exists(final))) await rename(final, staged);
    // When `kept` is a link to `final`, this rename does nothing: the file in place is the earlier one.
    if (await exists(kept)) await rename(kept, final);
  }
  // A removed file comes back from where it was kept (a no-op when it was never taken away).
  for (const name of removed) {
    const kept = join(stagingDir, PREVIOUS_DIR, name);
    if (await exists(kept)) await rename(kept, join(dir, name));
  }
  await syncDir(dir);
}

/** Finish what the process of `stagingDir` left: undo a commit that did not reach its last name, keep one that did. */
async function settle(dir: string, stagingDir: string): Promise<void> {
  let record: CommitRecord | undefined;
  try {
    record = JSON.parse(await readFile(join(stagingDir, COMMIT_FILE), 'utf8')) as CommitRecord;
  } catch (err: unknown) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
  if (record !== undefined) {
    const last = record.names[record.names.length - 1];
    if (last !== undefined && (await exists(join(stagingDir, last)))) await undo(dir, stagingDir, record.names, record.removed ?? []);
  }
  await removeStaging(stagingDir);
}

/** The commit record goes first: a staging directory half removed must never read as a commit to undo. */
async function removeStaging(stagingDir: string): Promise<void> {
  await rm(join(stagingDir, COMMIT_FILE), { force: true });
  await rm(stagingDir, { recursive: true, force: true });
}

/** Settle every staging directory in `dir` whose process is gone; refuse to go on beside one that runs. */
async function settleAbandoned(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    if (!entry.startsWith(STAGING_PREFIX)) continue;
    const stagingDir = join(dir, entry);
    const owner = await readOwner(stagingDir, entry);
    const state = await ownerState(owner);
    if (state === 'gone') {
      await settle(dir, stagingDir);
      continue;
    }
    const who = state === 'elsewhere' ? `airgap on ${owner?.host ?? 'another host'} (pid ${owner?.pid ?? '?'})` : `another airgap process (pid ${owner?.pid ?? '?'})`;
    throw new AirgapError(`${who} is writing into ${dir} (${stagingDir})`, {
      hint: `wait for it to finish, or choose another directory with -o; if no such process runs any more, remove ${stagingDir}`,
    });
  }
}

async function readOwner(stagingDir: string, entry: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(join(stagingDir, OWNER_FILE), 'utf8')) as Owner;
  } catch {
    // Killed between making the directory and writing its owner: the pid in the name is all there is.
    const pid = Number(/^\.airgap-staging-(\d+)-/.exec(entry)?.[1]);
    return Number.isInteger(pid) && pid > 0 ? { host: hostname(), pid, boot: '', start: '' } : undefined;
  }
}

async function ownerState(owner: Owner | undefined): Promise<'gone' | 'running' | 'elsewhere'> {
  if (owner === undefined) return 'gone';
  if (owner.host !== hostname()) return 'elsewhere';
  // Our own pid on a directory we have not made yet: a process before us had it (a container's pid 1).
  if (owner.pid === process.pid) return 'gone';
  try {
    process.kill(owner.pid, 0);
  } catch (err: unknown) {
    if (errorCode(err) === 'ESRCH') return 'gone';
  }
  if (owner.boot === '' || owner.start === '') return 'running';
  const now = await processIdentity(owner.pid);
  return now.boot === owner.boot && now.start === owner.start ? 'running' : 'gone';
}

/** The boot and the start time of a process: a pid alone may have been given to another process since. */
async function processIdentity(pid: number): Promise<{ boot: string; start: string }> {
  try {
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which may hold spaces and parentheses.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
    return { boot, start };
  } catch {
    return { boot: '', start: '' };
  }
}

/** Make renames and links in `dir` durable; a file system that cannot sync a directory makes no promise to break. */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err: unknown) {
    const code = errorCode(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR' && code !== 'EPERM') {
      throw new AirgapError(`cannot sync ${dir}: ${messageOf(err)}`, { cause: err });
    }
  } finally {
    await handle?.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err: unknown) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
}
