import { Command, CommanderError } from '@commander-js/extra-typings';
import { cachePruneCommandLine, checkCommandLine, collectCommandLine, configCommandLine, deployCommandLine, initCommandLine, loadCommandLine, serveCommandLine, verifyCommandLine } from './cli/command-line.ts';
import { EXIT_CANCELLED, EXIT_USAGE, exitCodeFor, formatFailure } from './cli/errors.ts';
import type { CommandIo } from './commands/io.ts';
import { CancelledError, UsageError } from './errors.ts';
import { terminalSafe } from './util/printable.ts';
import { VERSION_TEXT } from './version.ts';

/**
 * The whole program: argv in, exit code out. Only this file's caller touches process.exit. Each command's
 * module is imported when that command runs: `airgap load` does not pay at every start for serve, check or
 * config (a third of the start-up time of a short command).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(EXIT_CANCELLED);
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping and removing partial files (Ctrl-C again to quit at once)\n');
    controller.abort(new CancelledError('interrupted: nothing was left under a final name; re-run to finish the job'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that went away (`airgap collect --list | head -1`: EPIPE) is not a failure of the command and no
  // reason to crash: what it would have been shown is dropped, and the work goes on to its end.
  const gone = new Set<NodeJS.WriteStream>();
  const stdoutGone = (): void => void gone.add(process.stdout);
  const stderrGone = (): void => void gone.add(process.stderr);
  process.stdout.on('error', stdoutGone);
  process.stderr.on('error', stderrGone);
  const write = (stream: NodeJS.WriteStream, text: string): void => {
    if (!gone.has(stream)) stream.write(text);
  };

  // The output boundary: whatever a command prints, no control character from outside reaches the terminal.
  const io: CommandIo = {
    stdout: (text) => write(process.stdout, terminalSafe(text)),
    stderr: (text) => write(process.stderr, terminalSafe(text)),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    // The live displays draw on stdout: redirected, it gets plain lines (warnings and failures go to stderr either way).
    isTty: process.stdout.isTTY === true,
    signal: controller.signal,
  };
  const program = new Command()
    .name('airgap')
    .description('Carry a software release (images, charms, manifests) into an air-gapped network and install it there')
    .version(VERSION_TEXT, '-V, --version')
    .option('--debug', 'show stack traces on failure')
    .exitOverride()
    .showSuggestionAfterError(true);

  // Each command's flags are declared in cli/command-line.ts; the settings above (exitOverride, suggestions) are the program's.
  const add = <C extends Command<unknown[], Record<string, unknown>>>(command: C): C => command.copyInheritedSettings(program);
  program.addCommand(add(collectCommandLine()).action(async (release, options) => (await import('./commands/collect.ts')).collectCommand(release, options, io)));
  program.addCommand(add(loadCommandLine()).action(async (source, options) => (await import('./commands/load.ts')).loadCommand(source, options, io)));
  program.addCommand(add(deployCommandLine()).action(async (target, options) => (await import('./commands/deploy.ts')).deployCommand(target, options, io)));
  program.addCommand(add(serveCommandLine()).action(async (source, options) => (await import('./commands/serve.ts')).serveCommand(source, options, io)));
  program.addCommand(add(verifyCommandLine()).action(async (dir, options) => (await import('./commands/verify.ts')).verifyCommand(dir, options, io)));
  program.addCommand(add(new Command('cache').description('manage collect\'s blob cache'))
    .addCommand(add(cachePruneCommandLine()).action(async (options) => (await import('./commands/cache.ts')).cachePruneCommand(options, io))));
  program.addCommand(add(checkCommandLine()).action(async (options) => (await import('./commands/check.ts')).checkCommand(options, io)));
  program.addCommand(add(configCommandLine()).action(async (kind, options) => (await import('./commands/config.ts')).configCommand(kind, options, io)));
  program.addCommand(add(initCommandLine()).action(async (release, options) => (await import('./commands/init.ts')).initCommand(release, options, io)));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err: unknown) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander's exitOverride; they already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT_USAGE;
    }
    const debug = program.opts().debug === true;
    const failure = controller.signal.aborted && !(err instanceof UsageError) ? controller.signal.reason : err;
    write(process.stderr, `${formatFailure(failure, debug)}\n`);
    return exitCodeFor(failure);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // The caller exits at once: what a pipe's reader has not taken yet must be handed over first.
    await Promise.all([process.stdout, process.stderr].filter((stream) => !gone.has(stream)).map(handedOver));
    process.stdout.off('error', stdoutGone);
    process.stderr.off('error', stderrGone);
  }
}

/**
 * Resolves once everything written to `stream` is with the OS. A pipe holds 64 KiB; Node keeps the rest of a
 * larger write (a `--json` document read by `jq`, or by a script that reads only once the command ends) and
 * process.exit() would drop it. A reader that went away (EPIPE) ends the wait too.
 */
function handedOver(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('error', done);
      resolve();
    };
    stream.once('error', done);
    stream.write('', done);
  });
}
