/**
 * `airgap serve` as its own process, the way a site runs it: the built CLI in its own process group (taken
 * down with the test process however that ends), ready once it prints where it serves. What the tests of
 * crashes need: a handler that killed the process shows here as an exit, not as a failed promise.
 */
import { AIRGAP_BIN } from '../support/airgap-cli.ts';
import { startManagedProcess, type ManagedProcess } from '../support/process.ts';
import { sleep } from '../../src/util/sleep.ts';

export interface ServeProcess {
  /** http(s)://HOST:PORT */
  url: string;
  /** HOST:PORT */
  host: string;
  process: ManagedProcess;
  /** SIGTERM (a graceful stop) and wait for the exit. */
  stop(): Promise<void>;
}

/** Start `airgap serve ARGS --listen 127.0.0.1:0` and wait for its "Serving ... at URL" line. */
export async function startServeCli(args: readonly string[], options: { cleanupDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ServeProcess> {
  const child = startManagedProcess(process.execPath, [AIRGAP_BIN, 'serve', ...args, '--listen', '127.0.0.1:0'], {
    env: { ...process.env, ...options.env },
    ...(options.cleanupDir === undefined ? {} : { cleanupDir: options.cleanupDir }),
  });
  for (;;) {
    const match = /^Serving \d+ images at (https?:\/\/(\S+)) /m.exec(child.logs());
    if (match?.[1] !== undefined && match[2] !== undefined) {
      return {
        url: match[1],
        host: match[2],
        process: child,
        stop: async () => {
          await child.stop();
        },
      };
    }
    if (child.hasExited()) throw new Error(`airgap serve ${args.join(' ')} exited before serving:\n${child.logs()}`);
    await sleep(50);
  }
}
