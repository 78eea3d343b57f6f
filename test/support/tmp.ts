/**
 * Temporary directories for tests. Short paths under the system temp dir on purpose: dockerd puts unix
 * sockets inside them and a socket path must stay under 108 bytes.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
