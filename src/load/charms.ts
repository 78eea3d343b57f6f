import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readArchive } from '../archive/read-archive.ts';
import { AirgapError, ArchiveError, DigestMismatchError } from '../errors.ts';
import { AtomicFile } from '../fs/atomic-file.ts';
import { LOCK_FILE_NAME, type Lock } from '../lock.ts';
import { VerifyingStream } from '../oci/digest.ts';

// charms.tar.gz is flat: a member name is a plain file name, never a path.
const SAFE_NAME = /^[A-Za-z0-9._+@=-][A-Za-z0-9._+@=-]*$/;
const SAME_COLLECT = `copy charms.tar.gz and ${LOCK_FILE_NAME} from the same collect`;

/**
 * Unpack charms.tar.gz into `dir`: every member under a temporary name first, each charm and tool checked
 * against the lock as it streams, the archive's own sha256 against the lock's, every charm the lock lists
 * present; only then is each renamed into place. Any failure removes every temporary file: nothing is
 * half-written, nothing unchecked is unpacked. A member whose name would land outside `dir` stops the
 * unpack. An airgap executable (`collect --include-tool`) is unpacked runnable (0755); without a lock, a
 * member keeps the executable bits its tar header gives.
 */
export async function extractCharms(archive: string, dir: string, lock: Lock | undefined, onFile: (file: string, size: number) => void): Promise<string[]> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err: unknown) {
    throw new AirgapError(`cannot create the charms directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err, hint: 'choose another one with --charms-dir' });
  }
  const staged: { file: AtomicFile; name: string; size: number }[] = [];
  try {
    const read = await readArchive(archive, async (member) => {
      const name = member.baseName;
      if (!SAFE_NAME.test(name) || name === '.' || name === '..') {
        throw new ArchiveError(`${archive}: member "${member.name}" would be written outside ${dir}; refusing to unpack`, { hint: 'this is not a charms.tar.gz made by airgap collect' });
      }
      if (staged.some((s) => s.name === name)) throw new ArchiveError(`${archive} holds ${name} twice`, { hint: 'this is not a charms.tar.gz made by airgap collect' });
      const locked = lock?.charms.find((c) => c.file === name) ?? lock?.tools?.find((t) => t.file === name);
      const file = new AtomicFile(join(dir, name));
      staged.push({ file, name, size: member.size });
      const verifying = new VerifyingStream(locked === undefined ? undefined : {
        digest: `sha256:${locked.sha256}`, size: locked.size, what: `${archive}: ${name}`, hint: SAME_COLLECT,
      });
      try {
        await pipeline(member.stream, verifying, file.stream());
      } catch (err: unknown) {
        if (err instanceof DigestMismatchError && locked !== undefined) {
          const kind = lock?.tools?.some((t) => t.file === name) === true ? 'the airgap executable' : 'charm';
          const actual = err.actual.replace(/^sha256:/, '');
          throw new DigestMismatchError(`${archive}: ${kind} ${name} has sha256 ${actual}, the lock says ${locked.sha256}`, locked.sha256, actual, { hint: SAME_COLLECT });
        }
        if (err instanceof AirgapError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        throw new AirgapError(`cannot write ${join(dir, name)} from ${archive}: ${code ?? String(err)}`, { cause: err, hint: 'check that the charms directory is writable and has room' });
      }
      const tool = lock?.tools?.find((t) => t.file === name);
      // Only what the lock vouches for becomes runnable; with no lock, the archive's own bits are all there is.
      if (tool !== undefined || (lock === undefined && ((member.mode ?? 0o644) & 0o111) !== 0)) await chmod(file.tempPath, 0o755);
    });
    if (lock !== undefined) {
      const expected = lock.archives['charms.tar.gz'];
      if (expected !== undefined && expected.sha256 !== read.sha256) {
        throw new ArchiveError(`${archive} has sha256 ${read.sha256}, ${LOCK_FILE_NAME} says ${expected.sha256}: it is not the charms archive of this collect; nothing was unpacked`, { hint: SAME_COLLECT });
      }
      const missing = [...lock.charms, ...(lock.tools ?? [])].filter((c) => !staged.some((s) => s.name === c.file)).map((c) => c.file);
      if (missing.length > 0) {
        throw new ArchiveError(`${archive} lacks ${missing.join(', ')}, which ${LOCK_FILE_NAME} records; nothing was unpacked`, { hint: SAME_COLLECT });
      }
    }
    for (const s of staged) await s.file.commit();
  } catch (err: unknown) {
    await Promise.all(staged.map((s) => s.file.discard()));
    throw err;
  }
  for (const s of staged) onFile(s.name, s.size);
  return staged.map((s) => s.name);
}
