/**
 * The built CLI on a terminal, as an operator sees it: run inside a pseudo-terminal by `script` (util-linux,
 * in Debian's essential bsdutils package), 120 columns wide, so the live (listr2) displays draw as they do
 * for a person. What it printed is read with the terminal's control sequences taken out; the CLI itself is
 * `exec`'d by the shell, so a signal sent to it is sent to airgap and nothing between.
 */
import { readFile } from 'node:fs/promises';
import { stripVTControlCharacters } from 'node:util';
import { sleep } from '../../src/util/sleep.ts';
import { AIRGAP_BIN } from './airgap-cli.ts';
import { startManagedProcess, type ExitStatus } from './process.ts';

export interface TerminalRun {
  /** What the terminal showed so far: every frame of the display, control sequences taken out. */
  text(): string;
  /** Waits until the terminal shows `pattern` (or the CLI ends, which fails the wait). */
  waitFor(pattern: RegExp): Promise<void>;
  /** Sends `signal` to the airgap process itself. */
  signal(signal: NodeJS.Signals): Promise<void>;
  exited: Promise<ExitStatus>;
}

function shellWord(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

export function startOnTerminal(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): TerminalRun {
  const command = `stty cols 120 rows 50; exec ${[process.execPath, AIRGAP_BIN, ...args].map(shellWord).join(' ')}`;
  const child = startManagedProcess('script', ['-qefc', command, '/dev/null'], {
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const text = (): string => stripVTControlCharacters(child.logs()).replaceAll('\r', '');
  return {
    text,
    exited: child.exited,
    async waitFor(pattern) {
      while (!pattern.test(text())) {
        if (child.hasExited()) throw new Error(`the command ended before the terminal showed ${String(pattern)}:\n${text()}`);
        await sleep(50);
      }
    },
    async signal(signal) {
      // script's one child is the shell that exec'd airgap.
      const children = (await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean);
      for (const pid of children) process.kill(Number(pid), signal);
    },
  };
}

/** Runs `airgap ARGS` on a terminal to its end. */
export async function runOnTerminal(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number | null; text: string }> {
  const run = startOnTerminal(args, options);
  const { code } = await run.exited;
  return { code, text: run.text() };
}
