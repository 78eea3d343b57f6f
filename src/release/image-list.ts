/** An image list: one reference a line; `#` starts a comment; blank lines are ignored. */
import { ReleaseFileError, messageOf } from '../errors.ts';
import { parseReference } from '../reference.ts';
import type { Candidate } from './mentions.ts';

export function parseImageList(file: string, text: string): Candidate[] {
  const candidates: Candidate[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    // No reference holds a '#', so everything after one is a comment.
    const hash = raw.indexOf('#');
    const reference = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (reference === '') return;
    const line = index + 1;
    if (/\s/.test(reference)) {
      throw new ReleaseFileError(file, `"${reference}": one image reference a line`, { line, hint: 'put each image on its own line' });
    }
    try {
      parseReference(reference);
    } catch (err: unknown) {
      throw new ReleaseFileError(file, messageOf(err), { line, cause: err, hint: 'write it as [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST], or comment the line out with #' });
    }
    candidates.push({ reference, file, yamlPath: `images[${candidates.length}]`, line, origin: 'listed' });
  });
  return candidates;
}
