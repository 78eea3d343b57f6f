import { Listr, type DefaultRenderer, type ListrDefaultRenderer, type ListrSimpleRenderer, type ListrTaskWrapper, type SimpleRenderer } from 'listr2';
import { printable } from '../util/printable.ts';

type Task = ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;

interface NotReady {
  application: string;
  unit: string | undefined;
  status: string;
  message: string;
}

function describeUnits(notReady: readonly NotReady[]): string {
  return notReady.map((n) => printable(`${n.unit ?? n.application}: ${n.status}${n.message === '' ? '' : ` (${n.message})`}`)).join('\n');
}

/**
 * On a terminal, the wait for the model to settle as one listr2 task per application: each shows its
 * units' status and message and turns green when active. Lines that must be seen at once (an image that
 * cannot be pulled) show under a task of their own.
 */
export class DeployWaitDisplay {
  #tasks = new Map<string, { task?: Task; done: () => void; notReady: NotReady[] }>();
  #alerts: { task?: Task; lines: string[]; done: () => void } | undefined;
  #running: Promise<void> | undefined;

  get active(): boolean {
    return this.#running !== undefined;
  }

  /** Called with every poll: starts the display on the first one. */
  update(applications: readonly string[], notReady: readonly NotReady[]): void {
    if (this.#running === undefined) this.#start(applications);
    for (const [application, entry] of this.#tasks) {
      entry.notReady = notReady.filter((n) => n.application === application);
      if (entry.notReady.length === 0) entry.done();
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
    for (const entry of this.#tasks.values()) entry.done();
    this.#alerts?.done();
    await this.#running;
  }

  #start(applications: readonly string[]): void {
    let alertsDone!: () => void;
    const alertsFinished = new Promise<void>((resolve) => (alertsDone = resolve));
    this.#alerts = { lines: [], done: alertsDone };
    const alerts = this.#alerts;
    const tasks = applications.map((application) => {
      let done!: () => void;
      const finished = new Promise<void>((resolve) => (done = resolve));
      const entry: { task?: Task; done: () => void; notReady: NotReady[] } = { done, notReady: [] };
      this.#tasks.set(application, entry);
      return {
        title: printable(application),
        task: async (_ctx: unknown, task: Task) => {
          entry.task = task;
          if (entry.notReady.length > 0) task.output = describeUnits(entry.notReady);
          await finished;
          if (entry.notReady.length > 0) {
            const first = entry.notReady[0];
            const message = first === undefined || first.message === '' ? '' : ` (${first.message})`;
            throw new Error(printable(`${application}: ${first?.status ?? 'not active'}${message}`));
          }
          task.title = printable(`${application}: active`);
        },
        // The failure line itself comes from the library's error; here the task only turns red.
      };
    });
    const list = new Listr<unknown, ListrDefaultRenderer, ListrSimpleRenderer>(
      [
        { title: `Wait for ${applications.length} applications to be active`, task: (_ctx, task) => task.newListr(tasks, { concurrent: true, exitOnError: false }) },
        {
          title: 'No image pull problems seen',
          task: async (_ctx, task) => {
            alerts.task = task as unknown as Task;
            await alertsFinished;
          },
        },
      ],
      { concurrent: true, exitOnError: false, rendererOptions: { collapseSubtasks: false } },
    );
    this.#running = list.run().then(() => {}, () => {});
  }
}
