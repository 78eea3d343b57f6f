/**
 * The `juju` CLI, driven with argv arrays (never a shell string: option values hold spaces, quotes and
 * brackets that must reach Juju unchanged). Commands are built as plain argv first so that `--dry-run` can
 * show exactly what would run, then executed by `run`.
 */
import { execFile } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { AirgapError, messageOf } from '../errors.ts';
import type { AirgapErrorOptions } from '../errors.ts';
import { sleep } from '../util/sleep.ts';
import { inError, notReady, parseJujuStatus } from './juju-status.ts';
import type { ModelState, NotReady } from './juju-status.ts';

export interface JujuOptions {
  /** The juju executable; default `juju` found on PATH. */
  jujuPath?: string;
  /** Adds `-m MODEL` to every model command. */
  model?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** argv after the executable, for display and for execution. */
export type JujuCommand = readonly string[];

export interface WaitOptions {
  timeoutMs: number;
  /** Default 5000. */
  pollMs?: number;
  /** Called after every status poll, with what is still not active/idle (empty on the last, successful poll). */
  onPoll?: (state: ModelState, notReady: NotReady[]) => void;
}

/** A juju command exited non-zero (or was killed). */
export class JujuCommandError extends AirgapError {
  /** The full argv, the executable first. */
  readonly argv: readonly string[];
  /** `undefined` when the process was killed by a signal. */
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** The last lines of its stderr, trimmed (at most STDERR_TAIL_LINES). */
  readonly stderrTail: readonly string[];
  constructor(
    argv: readonly string[],
    exitCode: number | undefined,
    signal: string | undefined,
    stderrTail: readonly string[],
    options: AirgapErrorOptions = {},
  ) {
    const how = exitCode !== undefined ? `exit code ${exitCode}` : `killed by ${signal ?? 'a signal'}`;
    const tail = stderrTail.length === 0 ? ' (no error output)' : `:\n${stderrTail.map((line) => `  ${line}`).join('\n')}`;
    super(`${formatCommand(argv)} failed with ${how}${tail}`, options);
    this.argv = argv;
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderrTail = stderrTail;
  }
}

/** The juju executable is not there (or cannot be run): nothing Juju can be done at all. */
export class JujuNotFoundError extends AirgapError {
  readonly executable: string;
  constructor(executable: string, message: string, options: AirgapErrorOptions = {}) {
    super(message, options);
    this.executable = executable;
  }
}

/** What `juju download` is asked for. */
export interface CharmDownload {
  charm: string;
  channel: string | undefined;
  revision: number | undefined;
  base: string | undefined;
  /** Where the charm file goes. */
  filepath: string;
  charmhubUrl: string | undefined;
}

/** Waiting for the model to settle failed: a unit in error, or the time ran out. */
export class JujuWaitError extends AirgapError {
  readonly reason: 'error' | 'timeout';
  /** What was in error (reason `error`) or not ready (reason `timeout`) at the last poll. */
  readonly notReady: readonly NotReady[];
  readonly state: ModelState | undefined;
  constructor(reason: 'error' | 'timeout', message: string, notReady: readonly NotReady[], state: ModelState | undefined, options: AirgapErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
    this.notReady = notReady;
    this.state = state;
  }
}

const STDERR_TAIL_LINES = 10;
/** `juju status --format=json` of a large model runs to megabytes; execFile's 1 MiB default would cut it. */
const MAX_BUFFER = 256 * 1024 * 1024;
/** Consecutive failed `juju status` calls a wait rides out: the API connection drops now and then. */
const STATUS_FAILURES_TOLERATED = 3;
// Characters a POSIX shell leaves alone; anything else is quoted when a command is shown.
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A command as one line a person can paste into a shell. For display only: execution never uses a shell. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((arg) => (SHELL_SAFE.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/**
 * Juju reads a bare word as a Charmhub name: a local charm or bundle file must look like a path.
 */
function asLocalPath(file: string): string {
  if (isAbsolute(file) || file.startsWith('./') || file.startsWith('../')) return file;
  return `./${file}`;
}

function renderConfigValue(key: string, value: string | number | boolean): string {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new AirgapError(`config option ${key} has the value ${value}, which Juju cannot take`, { hint: 'give a finite number or a string' });
  }
  return String(value);
}

function pair(kind: string, key: string, value: string): string {
  // Juju splits `k=v` at the first `=`: a key holding one would be cut in the wrong place.
  if (key === '' || key.includes('=')) {
    throw new AirgapError(`${kind} name ${JSON.stringify(key)} cannot be passed to juju deploy`, { hint: `a ${kind} name is not empty and has no "="` });
  }
  return `${key}=${value}`;
}

function tailLines(stderr: string): string[] {
  // Juju colours nothing when not on a terminal, but a wrapper script might.
  const lines = stderr.replace(/\u001b\[[0-9;]*m/g, '').split(/\r?\n/).map((line) => line.trimEnd()).filter((line) => line.trim() !== '');
  return lines.slice(-STDERR_TAIL_LINES);
}

/** What execFile's callback error carries: `code` is the exit code, or an errno string when spawn failed. */
interface ExecFailure {
  code?: unknown;
  signal?: unknown;
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10}s`;
  return `${Math.round(ms / 60_000)}m`;
}

function describe(items: readonly NotReady[]): string {
  return items
    .map((item) => `${item.unit ?? item.application} ${item.status}${item.message === '' ? '' : ` (${item.message})`}`)
    .join('; ');
}

export class Juju {
  readonly executable: string;
  readonly #model: string | undefined;
  readonly #env: NodeJS.ProcessEnv | undefined;
  readonly #signal: AbortSignal | undefined;

  constructor(options: JujuOptions = {}) {
    this.executable = options.jujuPath ?? 'juju';
    this.#model = options.model;
    this.#env = options.env;
    this.#signal = options.signal;
  }

  #modelArgs(): string[] {
    return this.#model === undefined ? [] : ['-m', this.#model];
  }

  /** `juju version`, e.g. `3.4.0-genericlinux-amd64`. Also the cheapest proof that juju is there. */
  async version(): Promise<string> {
    const { stdout } = await this.run(['version']);
    return stdout.trim();
  }

  async status(signal?: AbortSignal): Promise<ModelState> {
    const { stdout } = await this.#exec(this.statusCommand(), signal);
    return parseJujuStatus(stdout);
  }

  /** The controller's settings, of the controller `-m CONTROLLER:MODEL` names, else the current one. */
  controllerConfigCommand(): JujuCommand {
    const controller = this.#model?.includes(':') === true ? this.#model.slice(0, this.#model.indexOf(':')) : undefined;
    return ['controller-config', '--format=json', ...(controller === undefined || controller === '' ? [] : ['-c', controller])];
  }

  /** `juju controller-config --format=json`: caas-image-repo among the keys that are set. */
  async controllerConfig(signal?: AbortSignal): Promise<Record<string, unknown>> {
    const command = this.controllerConfigCommand();
    const { stdout } = await this.#exec(command, signal);
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch (err: unknown) {
      throw new AirgapError(`${formatCommand([this.executable, ...command])} did not print JSON`, { cause: err, hint: 'check that juju is the Juju CLI 2.9 or 3.x' });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AirgapError(`${formatCommand([this.executable, ...command])} did not print a JSON object`);
    return parsed as Record<string, unknown>;
  }

  statusCommand(): JujuCommand {
    return ['status', '--format=json', ...this.#modelArgs()];
  }

  deployBundleCommand(bundleFile: string, options: { trust: boolean; overlays: readonly string[] }): JujuCommand {
    return [
      'deploy',
      asLocalPath(bundleFile),
      ...(options.trust ? ['--trust'] : []),
      ...options.overlays.flatMap((overlay) => ['--overlay', overlay]),
      ...this.#modelArgs(),
    ];
  }

  deployCharmCommand(
    charmFile: string,
    application: string,
    options: { resources: Readonly<Record<string, string>>; config: Readonly<Record<string, string | number | boolean>>; trust?: boolean },
  ): JujuCommand {
    return [
      'deploy',
      asLocalPath(charmFile),
      application,
      ...Object.entries(options.resources).flatMap(([key, value]) => ['--resource', pair('resource', key, value)]),
      ...Object.entries(options.config).flatMap(([key, value]) => ['--config', pair('config option', key, renderConfigValue(key, value))]),
      ...(options.trust === true ? ['--trust'] : []),
      ...this.#modelArgs(),
    ];
  }

  /** As Canonical's release scripts run it; a base such as `ubuntu@22.04` is what Juju 3 takes. */
  downloadCommand(d: CharmDownload): JujuCommand {
    return [
      'download', d.charm,
      ...(d.channel === undefined ? [] : ['--channel', d.channel]),
      ...(d.base === undefined ? [] : d.base.includes('@') ? ['--base', d.base] : ['--series', d.base]),
      ...(d.revision === undefined ? [] : ['--revision', String(d.revision)]),
      ...(d.charmhubUrl === undefined ? [] : ['--charmhub-url', d.charmhubUrl]),
      '--filepath', d.filepath, '--no-progress',
    ];
  }

  /** `juju config APP k=v...`: only the options that differ from the model's. */
  configCommand(application: string, options: Readonly<Record<string, string | number | boolean>>): JujuCommand {
    return ['config', application, ...Object.entries(options).map(([key, value]) => pair('config option', key, renderConfigValue(key, value))), ...this.#modelArgs()];
  }

  /** The options an application has now (`juju config APP --format=json`, `settings.*.value`). */
  async config(application: string): Promise<Record<string, unknown>> {
    const { stdout } = await this.run(['config', application, '--format=json', ...this.#modelArgs()]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch (err: unknown) {
      throw new AirgapError(`juju config ${application} --format=json did not print JSON`, { cause: err });
    }
    const settings = typeof parsed === 'object' && parsed !== null && 'settings' in parsed ? parsed.settings : undefined;
    const values: Record<string, unknown> = {};
    if (typeof settings !== 'object' || settings === null) return values;
    for (const [key, setting] of Object.entries(settings)) {
      if (typeof setting === 'object' && setting !== null && 'value' in setting) values[key] = setting.value;
    }
    return values;
  }

  /** `relate` rather than `integrate`: Juju 3 keeps it as an alias, and 2.9 knows only it. */
  relateCommand(a: string, b: string): JujuCommand {
    return ['relate', a, b, ...this.#modelArgs()];
  }

  run(command: JujuCommand): Promise<{ stdout: string; stderr: string }> {
    return this.#exec(command, undefined);
  }

  #exec(command: JujuCommand, extraSignal: AbortSignal | undefined): Promise<{ stdout: string; stderr: string }> {
    const signals = [this.#signal, extraSignal].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    const argv = [this.executable, ...command];
    return new Promise((resolve, reject) => {
      execFile(
        this.executable,
        [...command],
        { env: this.#env ?? process.env, signal, maxBuffer: MAX_BUFFER, encoding: 'utf8', windowsHide: true },
        (err, stdout, stderr) => {
          if (err === null) {
            resolve({ stdout, stderr });
            return;
          }
          if (signal?.aborted) {
            reject(signal.reason);
            return;
          }
          const failure = err as ExecFailure;
          if (failure.code === 'ENOENT' || failure.code === 'EACCES') {
            const where = this.executable.includes('/') ? this.executable : `"${this.executable}" on PATH`;
            const what = failure.code === 'ENOENT' ? 'juju not found' : 'juju is not executable';
            reject(new JujuNotFoundError(this.executable, `${what} (looked for ${where})`, { cause: err, hint: 'install the juju snap or pass --juju PATH' }));
            return;
          }
          if (typeof failure.code === 'number' || typeof failure.signal === 'string') {
            const exitCode = typeof failure.code === 'number' ? failure.code : undefined;
            const killedBy = typeof failure.signal === 'string' ? failure.signal : undefined;
            reject(new JujuCommandError(argv, exitCode, killedBy, tailLines(typeof stderr === 'string' ? stderr : ''), { cause: err }));
            return;
          }
          reject(new AirgapError(`${formatCommand(argv)} could not be run: ${messageOf(err)}`, { cause: err }));
        },
      );
    });
  }

  /**
   * Poll `juju status` until every one of `applications` and its units is active/idle. A unit in `error`
   * ends the wait at once; otherwise the wait ends at `timeoutMs`, naming what is still not ready.
   */
  async waitForActive(applications: readonly string[], options: WaitOptions): Promise<ModelState> {
    const pollMs = options.pollMs ?? 5000;
    const deadline = Date.now() + options.timeoutMs;
    let last: ModelState | undefined;
    let lastNotReady: NotReady[] = applications.map((application) => ({ application, unit: undefined, status: 'unknown', message: 'no status read yet' }));
    let failures = 0;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let state: ModelState;
      try {
        // A status call that hangs (controller unreachable) must not outlast the wait.
        state = await this.status(AbortSignal.timeout(remaining));
        failures = 0;
      } catch (err: unknown) {
        this.#signal?.throwIfAborted();
        if (Date.now() >= deadline || (err instanceof Error && err.name === 'TimeoutError')) break;
        failures += 1;
        if (!(err instanceof JujuCommandError) || failures > STATUS_FAILURES_TOLERATED) throw err;
        await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), this.#signal);
        continue;
      }
      last = state;
      const errors = inError(state, applications);
      lastNotReady = notReady(state, applications);
      options.onPoll?.(state, lastNotReady);
      if (errors.length > 0) {
        throw new JujuWaitError('error', `Juju reports an error: ${describe(errors)}`, errors, state, {
          hint: 'see `juju debug-log` and `juju show-status-log UNIT`; fix the cause, then re-run airgap deploy',
        });
      }
      if (lastNotReady.length === 0) return state;
      const wait = Math.min(pollMs, deadline - Date.now());
      if (wait <= 0) break;
      await sleep(wait, this.#signal);
    }
    throw new JujuWaitError('timeout', `not active after ${formatDuration(options.timeoutMs)}: ${describe(lastNotReady)}`, lastNotReady, last, {
      hint: 'see `juju status` and `juju debug-log`; re-run with a longer --timeout if it is only slow',
    });
  }
}
