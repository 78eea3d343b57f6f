/**
 * Reading a .charm in place: a charm is the zip `charmcraft pack` writes, and only a few of its members
 * (metadata, config, data files) are ever needed, so members are read one at a time through the zip's
 * central directory (yauzl) and never unpacked to disk.
 */
import { openPromise } from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { AirgapError, messageOf } from '../errors.ts';

/** A member larger than this is not configuration or a data file worth scanning: it is skipped. */
export const MAX_SCANNED_MEMBER_BYTES = 8 * 1024 * 1024;
/** A zip claiming more members than any charm has is refused before its directory is walked. */
const MAX_MEMBERS = 200_000;

export interface CharmMember {
  /** Path inside the zip, `/`-separated, as stored. */
  name: string;
  /** Uncompressed size, as the central directory states it (checked while reading). */
  size: number;
}

/** A .charm that cannot be read as a zip. */
export class CharmFileError extends AirgapError {
  readonly file: string;
  constructor(file: string, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}

export class CharmZip {
  readonly file: string;
  readonly members: ReadonlyMap<string, CharmMember>;
  readonly #zip: ZipFile;
  readonly #entries: ReadonlyMap<string, Entry>;

  private constructor(file: string, zip: ZipFile, entries: Map<string, Entry>) {
    this.file = file;
    this.#zip = zip;
    this.#entries = entries;
    this.members = new Map([...entries].map(([name, entry]) => [name, { name, size: entry.uncompressedSize }]));
  }

  /** Open `file` and read its central directory; nothing is decompressed yet. */
  static async open(file: string): Promise<CharmZip> {
    let zip: ZipFile;
    try {
      // validateEntrySizes: a member that inflates to more than its header says is an error, not a bomb.
      zip = await openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: false });
    } catch (err: unknown) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') throw new CharmFileError(file, `cannot read the charm: ${messageOf(err)}`, { cause: err });
      throw new CharmFileError(file, `not a charm: it is not a zip file (${messageOf(err)})`, {
        cause: err,
        hint: 'a .charm is the zip file `charmcraft pack` or `juju download` writes; give that file',
      });
    }
    if (zip.entryCount > MAX_MEMBERS) {
      zip.close();
      throw new CharmFileError(file, `not a charm: the zip claims ${zip.entryCount} members`, { hint: 'give the .charm file `charmcraft pack` or `juju download` wrote' });
    }
    const entries = new Map<string, Entry>();
    try {
      await new Promise<void>((resolve, reject) => {
        zip.on('entry', (entry: Entry) => {
          // Directories carry nothing to read; a repeated name keeps its first entry, as unzip does.
          if (!entry.fileName.endsWith('/') && !entries.has(entry.fileName)) entries.set(entry.fileName, entry);
          zip.readEntry();
        });
        zip.once('end', () => resolve());
        zip.once('error', reject);
        zip.readEntry();
      });
    } catch (err: unknown) {
      zip.close();
      throw new CharmFileError(file, `not a charm: its zip directory is damaged (${messageOf(err)})`, { cause: err, hint: 'download the charm again' });
    }
    return new CharmZip(file, zip, entries);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** A member's text (UTF-8), or undefined when it is absent or larger than `maxBytes`. */
  async text(name: string, maxBytes = MAX_SCANNED_MEMBER_BYTES): Promise<string | undefined> {
    const entry = this.#entries.get(name);
    if (entry === undefined || entry.uncompressedSize > maxBytes) return undefined;
    const chunks: Buffer[] = [];
    try {
      const stream = await this.#zip.openReadStreamPromise(entry);
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (err: unknown) {
      throw new CharmFileError(this.file, `cannot read ${JSON.stringify(name)} in the charm: ${messageOf(err)}`, { cause: err, hint: 'download the charm again' });
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  close(): void {
    this.#zip.close();
  }
}
