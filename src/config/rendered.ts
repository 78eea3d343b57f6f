/**
 * What a `config` or `init` rendering produces, and how it is written: every file compared with what is
 * already there first, nothing written when one would be overwritten without --force, then each file
 * under a temporary name renamed into place.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AirgapError, UsageError } from '../errors.ts';
import { AtomicFile } from '../fs/atomic-file.ts';

export interface RenderedFile {
  /** Where it goes relative to the output directory (`HOST/hosts.toml`), or its default file name. */
  path: string;
  content: string;
  /** Where it belongs on the machine it configures, for the listing (`/etc/containerd/certs.d/HOST/hosts.toml`). */
  installPath: string;
}

export interface Rendering {
  files: RenderedFile[];
  /** Things the operator should know that are not in the files (one sentence each). */
  notes: string[];
}

export type WriteOutcome = 'written' | 'unchanged';

export interface WrittenFile {
  path: string;
  outcome: WriteOutcome;
}

/** The file's text, or undefined when there is none. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirgapError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Where each file goes for `-o`: a rendering of one file goes to `output` itself unless that is a
 * directory; a rendering of several goes under `output` as a directory.
 */
export async function targetPaths(rendering: Rendering, output: string): Promise<string[]> {
  const out = resolve(output);
  const [only] = rendering.files;
  if (rendering.files.length === 1 && only !== undefined && !only.path.includes('/') && !(await isDirectory(out))) return [out];
  return rendering.files.map((f) => join(out, f.path));
}

/** Writes every file, or none when one exists with other content and `force` is not set. */
export async function writeRendering(rendering: Rendering, output: string, force: boolean): Promise<WrittenFile[]> {
  const paths = await targetPaths(rendering, output);
  const before = await Promise.all(paths.map((p) => readIfExists(p)));
  const clashes = paths.filter((p, i) => before[i] !== undefined && before[i] !== rendering.files[i]?.content);
  if (clashes.length > 0 && !force) {
    throw new UsageError(`${clashes.join(', ')} already ${clashes.length === 1 ? 'exists' : 'exist'} with other content; nothing was written`, {
      hint: 'compare it with this output (run again without -o), or pass --force to replace it',
    });
  }
  const written: WrittenFile[] = [];
  for (const [i, path] of paths.entries()) {
    const file = rendering.files[i];
    if (file === undefined) continue;
    if (before[i] === file.content) {
      written.push({ path, outcome: 'unchanged' });
      continue;
    }
    await mkdir(dirname(path), { recursive: true });
    try {
      await new AtomicFile(path).writeText(file.content, { mode: 0o644 });
    } catch (err: unknown) {
      throw new AirgapError(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
    }
    written.push({ path, outcome: 'written' });
  }
  return written;
}
