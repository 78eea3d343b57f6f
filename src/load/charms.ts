import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readArchive } from '../archive/read-archive.ts';
import { ArchiveError, DigestMismatchError } from '../errors.ts';
import { AtomicFile } from '../fs/atomic-file.ts';
import type { Lock } from '../lock.ts';

// charms.tar.gz is flat: a member name is a plain file name, never a path.
const SAFE_NAME = /^[A-Za-z0-9._+@=-][A-Za-z0-9._+@=-]*$/;

/**
 * Unpack charms.tar.gz into `dir`: each member under a temporary name, its sha256 checked against the
 * lock, then renamed. A member whose name would land outside `dir` stops the unpack. An airgap executable
 * (`collect --include-tool`) is checked against the lock's `tools` and unpacked runnable (0755); without a
 * lock, a member keeps the executable bits its tar header gives.
 */
export async function extractCharms(archive: string, dir: string, lock: Lock | undefined, onFile: (file: string, size: number) => void): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  await readArchive(archive, async (member) => {
    const name = member.baseName;
    if (!SAFE_NAME.test(name) || name === '.' || name === '..') {
      throw new ArchiveError(`${archive}: member "${member.name}" would be written outside ${dir}; refusing to unpack`, { hint: 'this is not a charms.tar.gz made by airgap collect' });
    }
    const file = new AtomicFile(join(dir, name));
    const hash = createHash('sha256');
    try {
      await pipeline(member.stream, async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          yield chunk;
        }
      }, createWriteStream(file.tempPath));
      const actual = hash.digest('hex');
      const locked = lock?.charms.find((c) => c.file === name);
      if (locked !== undefined && locked.sha256 !== actual) {
        throw new DigestMismatchError(`${archive}: charm ${name} has sha256 ${actual}, the lock says ${locked.sha256}`, locked.sha256, actual, {
          hint: 'copy charms.tar.gz and airgap-lock.json from the same collect',
        });
      }
      const tool = lock?.tools?.find((t) => t.file === name);
      if (tool !== undefined && tool.sha256 !== actual) {
        throw new DigestMismatchError(`${archive}: the airgap executable ${name} has sha256 ${actual}, the lock says ${tool.sha256}`, tool.sha256, actual, {
          hint: 'copy charms.tar.gz and airgap-lock.json from the same collect',
        });
      }
      // Only what the lock vouches for becomes runnable; with no lock, the archive's own bits are all there is.
      const executable = tool !== undefined || (lock === undefined && ((member.mode ?? 0o644) & 0o111) !== 0);
      if (executable) await chmod(file.tempPath, 0o755);
      await file.commit();
    } catch (err: unknown) {
      await file.discard();
      throw err;
    }
    written.push(name);
    onFile(name, member.size);
  });
  const missing = (lock?.tools ?? []).filter((t) => !written.includes(t.file));
  if (missing.length > 0) {
    throw new ArchiveError(`${archive} lacks ${missing.map((t) => t.file).join(', ')}, which the lock records as packed by collect --include-tool`, {
      hint: 'copy charms.tar.gz and airgap-lock.json from the same collect',
    });
  }
  return written;
}
