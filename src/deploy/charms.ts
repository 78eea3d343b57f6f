import { existsSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { AirgapError, DigestMismatchError } from '../errors.ts';
import { sha256OfFile } from '../fs/sha256-file.ts';
import type { Lock } from '../lock.ts';

/**
 * Find an extra charm's file on the offline side: where the release says (beside it), else where
 * `airgap load` unpacked charms.tar.gz. Its sha256 must be the one collected.
 */
export async function locateCharm(charm: string, application: string, releaseDir: string, charmsDir: string, lock: Lock | undefined): Promise<string> {
  const name = basename(/^https?:\/\//.test(charm) ? new URL(charm).pathname : charm);
  const candidates = [
    ...(/^https?:\/\//.test(charm) ? [] : [isAbsolute(charm) ? charm : resolve(releaseDir, charm)]),
    join(charmsDir, name),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) {
    throw new AirgapError(`charm ${application}: ${name} not found (looked in ${candidates.join(', ')})`, {
      hint: 'run `airgap load` beside charms.tar.gz (it unpacks into ./charms), or pass --charms-dir',
    });
  }
  const locked = lock?.charms.find((c) => c.file === name);
  if (locked !== undefined) {
    const actual = await sha256OfFile(found);
    if (actual !== locked.sha256) {
      throw new DigestMismatchError(`charm ${application}: ${found} has sha256 ${actual}, the lock says ${locked.sha256}`, locked.sha256, actual, {
        hint: 'use the charm file collected with this release (charms.tar.gz)',
      });
    }
  }
  return found;
}
