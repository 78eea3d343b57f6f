/**
 * Charm files for tests: real zips (written with yazl, a library independent of the yauzl reader under test) laid
 * out as `charmcraft pack` lays them out, with the metadata.yaml that makes a zip a charm.
 */
import { writeFile } from 'node:fs/promises';
import yazl from 'yazl';

const EPOCH = new Date('2024-01-01T00:00:00Z');

/** A zip of `files` (member name -> content), deterministic bytes. */
export async function zipOf(files: Readonly<Record<string, string | Buffer>>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) zip.addBuffer(Buffer.from(content), name, { mtime: EPOCH, mode: 0o644 });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A minimal charm named `name`: metadata.yaml, plus any other members given. */
export function testCharm(name: string, files: Readonly<Record<string, string | Buffer>> = {}): Promise<Buffer> {
  return zipOf({ 'metadata.yaml': `name: ${name}\nsummary: a test charm\n`, ...files });
}

export async function writeTestCharm(path: string, name: string, files: Readonly<Record<string, string | Buffer>> = {}): Promise<void> {
  await writeFile(path, await testCharm(name, files));
}
