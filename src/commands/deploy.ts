import { UsageError } from '../errors.ts';
import { deploy, type DeployResult } from '../deploy/deploy.ts';
import type { DeployEvent } from '../deploy/events.ts';
import { describeKubeEvent } from '../kube/events.ts';
import { CLOUDS, type Cloud } from '../kube/transforms.ts';
import { DeployWaitDisplay } from '../cli/deploy-progress.ts';
import { credentialsFromFlags } from './credentials.ts';
import { printable } from '../util/printable.ts';
import { withRenderer, type CommandIo } from './io.ts';

export interface DeployCommandOptions {
  registry: string;
  placeholder?: string;
  output?: string;
  lock?: string;
  charmsDir: string;
  caFile: string[];
  plainHttp: string[];
  username?: string;
  passwordStdin?: boolean;
  dryRun: boolean;
  strict: boolean;
  model?: string;
  set: string[];
  timeout: string;
  pollInterval?: string;
  juju?: string;
  json: boolean;
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  proxy?: string;
  noProxy?: string;
  internalServices?: string;
  serviceType?: string;
}

/** --proxy: a URL the containers' HTTP clients all understand. */
function proxyUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--proxy ${value}: not a URL`, { hint: 'give it like http://proxy.example.com:3128' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--proxy ${value}: expected an http:// or https:// URL`);
  return value;
}

function cloud(value: string | undefined): Cloud | undefined {
  if (value === undefined) return undefined;
  const found = CLOUDS.find((c) => c === value);
  if (found === undefined) throw new UsageError(`--internal-services ${value}: expected one of ${CLOUDS.join(', ')}`);
  return found;
}

/** `30m`, `1h30m`, `90s`, `500ms`, `45` (seconds), as `flag` takes it: --timeout, --poll-interval. */
export function parseDuration(flag: string, text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  let rest = text;
  while (rest !== '') {
    const match = /^(\d+(?:\.\d+)?)(ms|h|m|s)/.exec(rest);
    if (match === null) throw new UsageError(`${flag} ${text}: expected a duration like 30m, 1h30m or 90s`);
    total += Number(match[1]) * (units[match[2] ?? 's'] ?? 1000);
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** Below this, `juju status` would run back to back: a poll costs Juju's controller a full status walk. */
const MIN_POLL_MS = 100;

function pollInterval(text: string): number {
  const ms = parseDuration('--poll-interval', text);
  if (ms < MIN_POLL_MS) throw new UsageError(`--poll-interval ${text}: expected ${MIN_POLL_MS}ms or more`);
  return ms;
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** The lines for an event, or undefined; each is escaped when printed, so names from the release stay on their line. */
function describe(event: DeployEvent): string[] | undefined {
  switch (event.type) {
    case 'rewritten':
      return [
        `rewrote ${event.references.length} reference${event.references.length === 1 ? '' : 's'} in ${event.file}${event.output === undefined ? '' : ` -> ${event.output}`}`,
        ...event.references.map((r) => `  ${r.yamlPath} (line ${r.line}): ${r.before} -> ${r.after}`),
      ];
    case 'unreachable':
      return event.references.map((r) => `warning: ${r.yamlPath} (line ${r.line}): ${r.reference} points at a registry the cluster cannot reach and names no collected image`);
    case 'image-checked':
      return [`${event.ok ? 'present' : 'MISSING'} ${event.reference}${event.digest === undefined ? '' : ` ${event.digest}`}`];
    case 'action':
      return [`${event.skipped ? `skip (${event.reason ?? ''})` : event.reason === 'dry run' ? 'would run' : 'run'}: ${event.command.map(shellWord).join(' ')}`];
    case 'waiting':
      return [event.notReady.length === 0 ? 'every application is active' : `waiting for ${event.notReady.map((n) => `${n.unit ?? n.application} ${n.status}${n.message === '' ? '' : ` (${n.message})`}`).join(', ')}`];
    case 'waited':
      return undefined;
    case 'warning':
      return [`warning: ${event.message}`];
    default:
      return describeKubeEvent(event);
  }
}

/** `airgap deploy [BUNDLE | airgap.yaml]`. */
export async function deployCommand(target: string | undefined, options: DeployCommandOptions, io: CommandIo): Promise<void> {
  const credentials = await credentialsFromFlags(options, io);
  let lastWaiting = '';
  // On a terminal the wait is a listr2 display, one task per application; elsewhere, plain lines.
  const display = io.isTty && !options.json ? new DeployWaitDisplay() : undefined;
  let closing: Promise<void> | undefined;
  const heldLines: [string, boolean][] = [];
  const result: DeployResult = await withRenderer(display, () => deploy({
    target: target ?? 'airgap.yaml',
    registry: options.registry,
    ...(options.placeholder === undefined ? {} : { placeholder: options.placeholder }),
    ...(options.output === undefined ? {} : { output: options.output }),
    ...(options.lock === undefined ? {} : { lockFile: options.lock }),
    charmsDir: options.charmsDir,
    caFiles: options.caFile,
    plainHttp: options.plainHttp,
    ...(credentials === undefined ? {} : { credentials }),
    dryRun: options.dryRun,
    strict: options.strict,
    ...(options.model === undefined ? {} : { model: options.model }),
    sets: options.set,
    timeoutMs: parseDuration('--timeout', options.timeout),
    ...(options.pollInterval === undefined ? {} : { pollMs: pollInterval(options.pollInterval) }),
    ...(options.juju === undefined ? {} : { jujuPath: options.juju }),
    kubernetes: {
      kubeconfig: options.kubeconfig,
      context: options.context,
      namespace: options.namespace,
      proxy: proxyUrl(options.proxy),
      noProxy: options.noProxy,
      internalServices: cloud(options.internalServices),
      serviceType: options.serviceType === undefined ? undefined : 'NodePort',
    },
    signal: io.signal,
    onEvent: (event) => {
      if (options.json) return;
      if (display !== undefined && event.type === 'waiting') {
        display.update(event.applications, event.notReady);
        return;
      }
      if (display?.active === true && event.type === 'waited') {
        // Lines after the wait are held until the display has drawn its last frame.
        closing = display.finish().then(() => {
          for (const [held, toStderr] of heldLines) (toStderr ? io.stderr : io.stdout)(`${held}\n`);
          heldLines.length = 0;
        });
        return;
      }
      const lines = describe(event);
      if (lines === undefined) return;
      const escaped = lines.map(printable);
      const line = escaped.join('\n');
      if (closing !== undefined) {
        heldLines.push([line, line.startsWith('warning:')]);
        return;
      }
      if (display?.active === true) {
        for (const one of escaped) display.alert(one);
        return;
      }
      // The same waiting line every poll says nothing new.
      if (event.type === 'waiting') {
        if (line === lastWaiting) return;
        lastWaiting = line;
      }
      if (line.startsWith('warning:')) io.stderr(`${line}\n`);
      else io.stdout(`${line}\n`);
    },
  }));
  await closing;
  if (options.json) {
    io.stdout(`${JSON.stringify({
      output: result.output,
      rewritten: result.rewritten,
      unreachable: result.unreachable,
      checkedImages: result.checkedImages,
      actions: result.plan.actions.map((a) => ({ description: a.description, command: a.command, skipped: a.skip ?? null })),
      ran: result.ran,
      kubernetes: result.kubernetes === undefined ? null : {
        context: result.kubernetes.context ?? null,
        namespace: result.kubernetes.namespace ?? null,
        objects: result.kubernetes.objects,
        changes: result.kubernetes.changes,
        skipped: result.kubernetes.skipped ?? null,
      },
    }, null, 2)}\n`);
    return;
  }
  const kube = result.kubernetes;
  if (kube !== undefined && kube.skipped === undefined) {
    io.stdout(`${options.dryRun ? 'Would apply' : 'Applied'} ${kube.objects.length} Kubernetes objects${kube.context === undefined ? '' : ` with context ${kube.context}`}${options.dryRun ? '' : ', every rollout complete'}\n`);
  }
  if (result.plan.actions.length === 0 && !options.dryRun) return;
  if (options.dryRun) {
    io.stdout(`Dry run: ${result.rewritten.length} references rewritten, ${result.checkedImages} images present in ${options.registry}; nothing was changed\n`);
  } else if (result.ran.length === 0) {
    io.stdout(`Nothing to do: every application and relation exists, and all ${result.plan.applications.length} applications are active\n`);
  } else {
    io.stdout(`Deployed: ${printable(result.ran.join(', '))}; all ${result.plan.applications.length} applications are active\n`);
  }
}
