/**
 * Temporary directories for tests: the one place tests make, fill and remove them. A test file takes one
 * with useTempDir() (made before its tests, removed after them, whatever they did) and works in fresh
 * directories inside it; support code that needs a directory of its own (a registry's storage) calls
 * makeTempDir(). Short paths under the system temp dir on purpose: dockerd puts unix sockets inside them
 * and a socket path must stay under 108 bytes.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { onProcessExit } from './process.ts';

export interface TempDir {
  readonly path: string;
  /** Removes the directory and everything in it; safe to call twice. */
  remove(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const pending = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A failed test whose afterAll never ran still leaves no directory behind when the worker ends.
  onProcessExit(() => {
    for (const path of pending) {
      try {
        rmSync(path, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // A server's watchdog removes what is still mounted or busy; nothing to report to here.
      }
    }
  });
}

export async function removeDir(path: string): Promise<void> {
  // maxRetries: a process that just exited may still be releasing files (EBUSY/ENOTEMPTY).
  await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

export async function makeTempDir(prefix = 'airgap-test-'): Promise<TempDir> {
  installExitHook();
  const path = await mkdtemp(join(tmpdir(), prefix));
  pending.add(path);
  const remove = async (): Promise<void> => {
    await removeDir(path);
    pending.delete(path);
  };
  return { path, remove, [Symbol.asyncDispose]: remove };
}

/** Runs `fn` in a fresh temporary directory that is removed afterwards, whatever `fn` does. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, prefix?: string): Promise<T> {
  const dir = await makeTempDir(prefix);
  try {
    return await fn(dir.path);
  } finally {
    await dir.remove();
  }
}

/** A test file's own temporary directory, and the few ways its tests fill it. */
export interface TestDir {
  /** The directory itself; there from the file's first beforeAll on. */
  readonly path: string;
  /** A new empty directory inside, `<label>-<n>`: each test works apart from the others. */
  dir(label?: string): Promise<string>;
  /** `content` at `name` inside (its parent directories made); returns the file's path. */
  write(name: string, content: string | Uint8Array): Promise<string>;
  /** A new directory `dir(label)` holding `files` (relative names, parents made); returns the directory. */
  files(label: string, files: Readonly<Record<string, string | Uint8Array>>): Promise<string>;
}

/**
 * The temporary directory of the calling test file: made in a beforeAll registered here, removed in an
 * afterAll that runs after the file's own (vitest runs afterAll hooks in reverse order), so servers the file
 * started in it are stopped before it goes. Call it at the top level of the file, before other hooks.
 */
export function useTempDir(prefix = 'airgap-test-'): TestDir {
  let made: TempDir | undefined;
  let serial = 0;
  beforeAll(async () => {
    made = await makeTempDir(prefix);
  });
  afterAll(async () => {
    await made?.remove();
  });
  const root = (): string => {
    if (made === undefined) throw new Error('useTempDir: the directory is made in beforeAll; use it inside hooks and tests');
    return made.path;
  };
  const writeIn = async (base: string, name: string, content: string | Uint8Array): Promise<string> => {
    const path = join(base, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    return path;
  };
  const dir = async (label = 'd'): Promise<string> => {
    const path = join(root(), `${label}-${serial++}`);
    await mkdir(path);
    return path;
  };
  return {
    get path() {
      return root();
    },
    dir,
    write: (name, content) => writeIn(root(), name, content),
    async files(label, files) {
      const path = await dir(label);
      for (const [name, content] of Object.entries(files)) await writeIn(path, name, content);
      return path;
    },
  };
}
