/** How `airgap deploy` reports: the rewrites, the images proved, each Juju command, the wait, the manifests. */
import type { DeployResult } from '../deploy/deploy.ts';
import type { DeployEvent } from '../deploy/events.ts';
import type { KubeEvent } from '../kube/events.ts';
import { describeRef } from '../kube/objects.ts';
import { describePullFailure } from '../kube/pod-status.ts';
import { printable } from '../util/printable.ts';
import { Gate, runListr, settleAll, type Task } from './listr.ts';
import { jsonReporter, linesOf, type Lines, type Reporter, type ReporterForms } from './reporter.ts';

/** The command's last event: what was done, for the closing lines or the JSON document. */
export interface DeployedEvent {
  type: 'deployed';
  result: DeployResult;
  registry: string;
  dryRun: boolean;
}

export type DeployReport = DeployEvent | DeployedEvent;

type NotReady = Extract<DeployEvent, { type: 'waiting' }>['notReady'][number];

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

function unitText(n: NotReady): string {
  return `${n.unit ?? n.application} ${n.status}${n.message === '' ? '' : ` (${n.message})`}`;
}

/** The warning a pull failure seen in the cluster is: its image, the kubelet's message, what to do. */
function pullFailureWarning(event: Extract<KubeEvent, { type: 'image-pull-failed' }>): string {
  return `${describePullFailure(event.failure)}${event.hint === undefined ? '' : ` (${event.hint})`}`;
}

/** An event in lines: progress and results on stdout, warnings (typed, never guessed from the text) on stderr. */
export function writeDeployEvent(event: DeployEvent, lines: Lines): void {
  switch (event.type) {
    case 'rewritten':
      lines.out(`rewrote ${event.references.length} reference${event.references.length === 1 ? '' : 's'} in ${event.file}${event.output === undefined ? '' : ` -> ${event.output}`}`);
      for (const r of event.references) lines.out(`  ${r.yamlPath} (line ${r.line}): ${r.before} -> ${r.after}`);
      break;
    case 'unreachable':
      for (const r of event.references) lines.warning(`${r.yamlPath} (line ${r.line}): ${r.reference} points at a registry the cluster cannot reach and names no collected image`);
      break;
    case 'image-checked':
      lines.out(`${event.ok ? 'present' : 'MISSING'} ${event.reference}${event.digest === undefined ? '' : ` ${event.digest}`}`);
      break;
    case 'action':
      lines.out(`${event.skipped ? `skip (${event.reason ?? ''})` : event.reason === 'dry run' ? 'would run' : 'run'}: ${event.command.map(shellWord).join(' ')}`);
      break;
    case 'waiting':
      lines.out(event.notReady.length === 0 ? 'every application is active' : `waiting for ${event.notReady.map(unitText).join(', ')}`);
      break;
    case 'waited':
      break;
    case 'kube-target':
      lines.out(event.context === undefined
        ? `Kubernetes: no kubeconfig; namespace ${event.namespace} for objects that name none`
        : `Kubernetes: context ${event.context} (${event.server ?? '?'}) from ${event.source ?? '?'}, namespace ${event.namespace}`);
      break;
    case 'kube-skipped':
      lines.out(`skip (${event.reason}): apply ${event.files.join(', ')}`);
      break;
    case 'kube-changes':
      for (const change of event.changes) lines.out(`  ${change}`);
      break;
    case 'kube-apply':
      lines.out(`${event.dryRun ? 'would apply' : 'applied'}: ${describeRef(event.ref)}`);
      break;
    case 'kube-rollout':
      lines.out(`${describeRef(event.ref)}: ${event.message}`);
      break;
    case 'image-pull-failed':
      lines.warning(pullFailureWarning(event));
      break;
    case 'warning':
      lines.warning(event.message);
      break;
  }
}

/** The closing lines: what was applied, and what was deployed (or would have been). */
function writeDeployed({ result, registry, dryRun }: DeployedEvent, lines: Lines): void {
  const kube = result.kubernetes;
  if (kube !== undefined && kube.skipped === undefined) {
    lines.out(`${dryRun ? 'Would apply' : 'Applied'} ${kube.objects.length} Kubernetes objects${kube.context === undefined ? '' : ` with context ${kube.context}`}${dryRun ? '' : ', every rollout complete'}`);
  }
  if (result.plan.actions.length === 0 && !dryRun) return;
  if (dryRun) lines.out(`Dry run: ${result.rewritten.length} references rewritten, ${result.checkedImages} images present in ${registry}; nothing was changed`);
  else if (result.ran.length === 0) lines.out(`Nothing to do: every application and relation exists, and all ${result.plan.applications.length} applications are active`);
  else lines.out(`Deployed: ${result.ran.join(', ')}; all ${result.plan.applications.length} applications are active`);
}

/** Off a terminal: a line per event; the same waiting line every poll says nothing new. */
function plainDeployReporter(lines: Lines): Reporter<DeployReport> {
  let lastWaiting = '';
  return {
    onEvent(event) {
      if (event.type === 'deployed') {
        writeDeployed(event, lines);
        return;
      }
      if (event.type === 'waiting') {
        const key = JSON.stringify(event.notReady);
        if (key === lastWaiting) return;
        lastWaiting = key;
      }
      writeDeployEvent(event, lines);
    },
    async finish() {},
  };
}

function describeUnits(notReady: readonly NotReady[]): string {
  return notReady.map((n) => printable(`${n.unit ?? n.application}: ${n.status}${n.message === '' ? '' : ` (${n.message})`}`)).join('\n');
}

/**
 * On a terminal, the wait for the model as listr2 tasks, one per application: each shows its units' status
 * and message and turns green when active. Lines that must be seen at once (an image that cannot be pulled)
 * show under a task of their own.
 */
class WaitDisplay {
  #tasks = new Map<string, { task?: Task; gate: Gate; notReady: readonly NotReady[] }>();
  #alerts: { task?: Task; lines: string[]; gate: Gate } | undefined;
  #running: Promise<void> | undefined;

  get active(): boolean {
    return this.#running !== undefined;
  }

  /** Called with every poll: starts the display on the first one. */
  update(applications: readonly string[], notReady: readonly NotReady[]): void {
    if (this.#running === undefined) this.#start(applications);
    for (const [application, entry] of this.#tasks) {
      entry.notReady = notReady.filter((n) => n.application === application);
      if (entry.notReady.length === 0) entry.gate.resolve();
      else if (entry.task !== undefined) entry.task.output = describeUnits(entry.notReady);
    }
  }

  /** A line that must be seen now (a pull failure, a warning): shown under its own task. */
  alert(line: string): void {
    if (this.#alerts === undefined) return;
    this.#alerts.lines.push(printable(line));
    if (this.#alerts.task !== undefined) {
      this.#alerts.task.title = `${this.#alerts.lines.length} problem(s) seen while waiting`;
      this.#alerts.task.output = this.#alerts.lines.slice(-5).join('\n');
    }
  }

  async finish(): Promise<void> {
    settleAll([...[...this.#tasks.values()].map((e) => e.gate), ...(this.#alerts === undefined ? [] : [this.#alerts.gate])]);
    await this.#running;
  }

  #start(applications: readonly string[]): void {
    const alerts: { task?: Task; lines: string[]; gate: Gate } = { lines: [], gate: new Gate() };
    this.#alerts = alerts;
    const tasks = applications.map((application) => {
      const entry: { task?: Task; gate: Gate; notReady: readonly NotReady[] } = { gate: new Gate(), notReady: [] };
      this.#tasks.set(application, entry);
      return {
        title: printable(application),
        task: async (_ctx: unknown, task: Task) => {
          entry.task = task;
          if (entry.notReady.length > 0) task.output = describeUnits(entry.notReady);
          await entry.gate.promise;
          // The failure line itself comes from the library's error; here the task only turns red.
          if (entry.notReady.length > 0) {
            const first = entry.notReady[0];
            const message = first === undefined || first.message === '' ? '' : ` (${first.message})`;
            throw new Error(printable(`${application}: ${first?.status ?? 'not active'}${message}`));
          }
          task.title = printable(`${application}: active`);
        },
      };
    });
    this.#running = runListr(
      [
        { title: `Wait for ${applications.length} applications to be active`, task: (_ctx, task) => task.newListr(tasks, { concurrent: true, exitOnError: false }) },
        {
          title: 'No image pull problems seen',
          task: async (_ctx, task) => {
            alerts.task = task;
            await alerts.gate.promise;
          },
        },
      ],
      { concurrent: true, rendererOptions: { collapseSubtasks: false } },
    );
  }
}

/**
 * On a terminal: the same lines as off it, but the wait for the model is a live display; what comes
 * during it shows in the display, what comes after it waits until the display has drawn its last frame.
 */
function ttyDeployReporter(lines: Lines): Reporter<DeployReport> {
  const display = new WaitDisplay();
  const alerts: Lines = { out: (text) => display.alert(text), warning: (message) => display.alert(`warning: ${message}`), note: () => {}, text: () => {} };
  let closing: Promise<void> | undefined;
  const held: DeployReport[] = [];
  const write = (event: DeployReport): void => {
    if (event.type === 'deployed') writeDeployed(event, lines);
    else writeDeployEvent(event, lines);
  };
  return {
    onEvent(event) {
      if (event.type === 'waiting') {
        display.update(event.applications, event.notReady);
        return;
      }
      if (event.type === 'waited' && display.active && closing === undefined) {
        closing = display.finish().then(() => {
          for (const e of held.splice(0)) write(e);
        });
        return;
      }
      if (closing !== undefined) {
        held.push(event);
        return;
      }
      if (display.active && event.type !== 'deployed') {
        writeDeployEvent(event, alerts);
        return;
      }
      write(event);
    },
    async finish() {
      await (closing ?? display.finish());
      for (const e of held.splice(0)) write(e);
    },
  };
}

export const deployReporters: ReporterForms<DeployReport> = {
  tty: (io) => ttyDeployReporter(linesOf(io)),
  plain: (io) => plainDeployReporter(linesOf(io)),
  json: (io) =>
    jsonReporter<DeployReport>(
      io,
      (event, warnings) => {
        if (event.type !== 'deployed') return undefined;
        const { result } = event;
        return {
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
          warnings,
        };
      },
      (event) => (event.type === 'warning' ? event.message : event.type === 'image-pull-failed' ? pullFailureWarning(event) : undefined),
    ),
};
