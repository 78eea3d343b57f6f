/**
 * Sends a plan to the cluster, object by object in the plan's order. Between the CustomResourceDefinitions
 * and the objects that follow, it waits for the new kinds to be served: a custom resource applied the
 * moment after its definition is refused as an unknown kind.
 */
import { AirgapError } from '../errors.ts';
import { sleep } from '../util/sleep.ts';
import type { KubeClient } from './client.ts';
import { describeRef, isJsonObject, type ObjectRef } from './objects.ts';
import type { ApplyPlan } from './plan.ts';

export interface ApplyOptions {
  /** How long a CRD may take to be Established; default 60 s. */
  crdTimeoutMs?: number;
  signal?: AbortSignal | undefined;
  onApplied?: (ref: ObjectRef) => void;
}

function established(crd: unknown): boolean {
  if (!isJsonObject(crd) || !isJsonObject(crd['status'])) return false;
  const conditions = crd['status']['conditions'];
  return Array.isArray(conditions) && conditions.some((c) => isJsonObject(c) && c['type'] === 'Established' && c['status'] === 'True');
}

async function waitEstablished(client: Pick<KubeClient, 'read'>, crds: readonly ObjectRef[], options: ApplyOptions): Promise<void> {
  const deadline = Date.now() + (options.crdTimeoutMs ?? 60_000);
  let pending = [...crds];
  while (pending.length > 0) {
    const next: ObjectRef[] = [];
    for (const ref of pending) if (!established(await client.read(ref))) next.push(ref);
    pending = next;
    if (pending.length === 0) return;
    if (Date.now() >= deadline) {
      throw new AirgapError(`${pending.map(describeRef).join(', ')} not Established after ${Math.round((options.crdTimeoutMs ?? 60_000) / 1000)}s: the objects that use them were not applied`, {
        hint: 'see `kubectl get crd NAME -o yaml` for its conditions; re-run when it is Established',
      });
    }
    await sleep(500, options.signal);
  }
}

/** Applies every object of `plan`; returns what was applied, in order. */
export async function applyPlan(client: Pick<KubeClient, 'apply' | 'read'>, plan: ApplyPlan, options: ApplyOptions = {}): Promise<ObjectRef[]> {
  const applied: ObjectRef[] = [];
  const crds: ObjectRef[] = [];
  for (const planned of plan.objects) {
    options.signal?.throwIfAborted();
    if (crds.length > 0 && planned.ref.kind !== 'CustomResourceDefinition') {
      await waitEstablished(client, crds, options);
      crds.length = 0;
    }
    try {
      await client.apply(planned.object);
    } catch (err: unknown) {
      const where = planned.file === undefined ? '' : ` (${planned.file}${planned.line === undefined ? '' : `:${planned.line}`})`;
      const done = applied.length === 0 ? 'nothing was applied before it' : `${applied.length} object(s) were applied before it`;
      if (err instanceof AirgapError) throw new AirgapError(`${err.message}${where}; ${done}`, { cause: err, ...(err.hint === undefined ? {} : { hint: err.hint }) });
      throw err;
    }
    applied.push(planned.ref);
    options.onApplied?.(planned.ref);
    if (planned.ref.kind === 'CustomResourceDefinition') crds.push(planned.ref);
  }
  return applied;
}
