/** What `airgap serve SOURCE` was given: an OCI image layout, an images archive, or a directory holding one. */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { archiveExists, archiveOfPart } from '../archive/archive-files.ts';
import { AirgapError } from '../errors.ts';
import { isImageLayout } from './layout.ts';

export type ServeSource = { kind: 'none' } | { kind: 'layout'; dir: string } | { kind: 'archive'; path: string };

export async function resolveSource(source: string | undefined): Promise<ServeSource> {
  if (source === undefined) return { kind: 'none' };
  // A part (images.tar.gz.003) stands for its archive, and so does the archive's name when only its parts are there.
  const full = archiveOfPart(resolve(source));
  if (!existsSync(full) && archiveExists(full)) return { kind: 'archive', path: full };
  let info;
  try {
    info = await stat(full);
  } catch (err: unknown) {
    throw new AirgapError(`${source} does not exist`, { cause: err, hint: 'give images.tar.gz, the directory holding it, or an OCI image layout directory' });
  }
  if (!info.isDirectory()) return { kind: 'archive', path: full };
  if (isImageLayout(full)) return { kind: 'layout', dir: full };
  for (const name of ['images.tar.gz', 'images.tar']) {
    if (existsSync(join(full, name))) return { kind: 'archive', path: join(full, name) };
  }
  if (archiveExists(join(full, 'images.tar.gz'))) return { kind: 'archive', path: join(full, 'images.tar.gz') };
  throw new AirgapError(`${source} is neither an OCI image layout (oci-layout, index.json) nor a directory holding images.tar.gz`, {
    hint: 'give the directory where the collect side\'s files were copied, the archive itself, or an OCI layout',
  });
}
