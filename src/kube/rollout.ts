/**
 * Whether a Deployment, StatefulSet or DaemonSet has rolled out, by the rules of `kubectl rollout
 * status` (kubectl/pkg/polymorphichelpers/rollout_status.go), with its messages; and the wait for it.
 */
import { sleep } from '../util/sleep.ts';
import type { KubeClient } from './client.ts';
import { KubeError } from './errors.ts';
import { describeRef, type ObjectRef } from './objects.ts';

/** The fields the rules read; client-node's V1Deployment, V1StatefulSet and V1DaemonSet all fit. */
export interface WorkloadView {
  metadata?: { name?: string; generation?: number };
  spec?: {
    replicas?: number;
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    currentReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    conditions?: { type: string; reason?: string; message?: string }[];
  };
}

export interface RolloutStatus {
  done: boolean;
  message: string;
  /** The rollout cannot finish by waiting (its progress deadline passed). */
  failed?: boolean;
}

function deploymentStatus(name: string, d: WorkloadView): RolloutStatus {
  const generation = d.metadata?.generation ?? 0;
  const status = d.status ?? {};
  if (generation > (status.observedGeneration ?? 0)) return { done: false, message: 'Waiting for deployment spec update to be observed...' };
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { done: false, failed: true, message: `deployment "${name}" exceeded its progress deadline` };
  const replicas = d.spec?.replicas;
  const updated = status.updatedReplicas ?? 0;
  if (replicas !== undefined && updated < replicas) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${replicas} new replicas have been updated...` };
  if ((status.replicas ?? 0) > updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${(status.replicas ?? 0) - updated} old replicas are pending termination...` };
  if ((status.availableReplicas ?? 0) < updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${status.availableReplicas ?? 0} of ${updated} updated replicas are available...` };
  return { done: true, message: `deployment "${name}" successfully rolled out` };
}

function daemonSetStatus(name: string, ds: WorkloadView): RolloutStatus {
  const strategy = ds.spec?.updateStrategy?.type;
  // kubectl refuses OnDelete: nothing rolls out until someone deletes the pods, so there is nothing to wait for.
  if (strategy !== undefined && strategy !== 'RollingUpdate') return { done: true, message: `daemon set "${name}" uses the ${strategy} update strategy: no rollout to wait for` };
  const status = ds.status ?? {};
  if ((ds.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) return { done: false, message: 'Waiting for daemon set spec update to be observed...' };
  const desired = status.desiredNumberScheduled ?? 0;
  const updated = status.updatedNumberScheduled ?? 0;
  if (updated < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...` };
  if ((status.numberAvailable ?? 0) < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${status.numberAvailable ?? 0} of ${desired} updated pods are available...` };
  return { done: true, message: `daemon set "${name}" successfully rolled out` };
}

function statefulSetStatus(name: string, sts: WorkloadView): RolloutStatus {
  const strategy = sts.spec?.updateStrategy;
  if (strategy?.type !== undefined && strategy.type !== 'RollingUpdate') return { done: true, message: `statefulset "${name}" uses the ${strategy.type} update strategy: no rollout to wait for` };
  const status = sts.status ?? {};
  if ((status.observedGeneration ?? 0) === 0 || (sts.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) return { done: false, message: 'Waiting for statefulset spec update to be observed...' };
  const replicas = sts.spec?.replicas;
  if (replicas !== undefined && (status.readyReplicas ?? 0) < replicas) return { done: false, message: `Waiting for ${replicas - (status.readyReplicas ?? 0)} pods to be ready...` };
  const partition = strategy?.rollingUpdate?.partition;
  if (strategy?.type === 'RollingUpdate' && strategy.rollingUpdate !== undefined) {
    if (replicas !== undefined && partition !== undefined && (status.updatedReplicas ?? 0) < replicas - partition) {
      return { done: false, message: `Waiting for partitioned roll out to finish: ${status.updatedReplicas ?? 0} out of ${replicas - partition} new pods have been updated...` };
    }
    return { done: true, message: `partitioned roll out complete: ${status.updatedReplicas ?? 0} new pods have been updated...` };
  }
  if (status.updateRevision !== status.currentRevision) return { done: false, message: `waiting for statefulset rolling update to complete ${status.updatedReplicas ?? 0} pods at revision ${status.updateRevision ?? ''}...` };
  return { done: true, message: `statefulset rolling update complete ${status.currentReplicas ?? 0} pods at revision ${status.currentRevision ?? ''}...` };
}

export function rolloutStatus(kind: string, name: string, object: WorkloadView | undefined): RolloutStatus {
  if (object === undefined) return { done: false, message: `${kind} "${name}" not found yet` };
  switch (kind) {
    case 'Deployment':
      return deploymentStatus(name, object);
    case 'DaemonSet':
      return daemonSetStatus(name, object);
    case 'StatefulSet':
      return statefulSetStatus(name, object);
    default:
      return { done: true, message: `${kind} "${name}" has no rollout` };
  }
}

export interface RolloutWaitOptions {
  timeoutMs: number;
  /** Default 2000. */
  pollMs?: number;
  signal?: AbortSignal | undefined;
  /** Called when a workload's status line changes. */
  onStatus?: (ref: ObjectRef, status: RolloutStatus) => void;
}

export interface PendingRollout {
  ref: ObjectRef;
  message: string;
}

/**
 * Poll every workload until each has rolled out, or the time is up. Returns what is still pending at
 * the deadline (empty when all are done); a rollout past its progress deadline ends the wait at once.
 */
export async function waitForRollouts(client: Pick<KubeClient, 'readWorkload'>, refs: readonly ObjectRef[], options: RolloutWaitOptions): Promise<PendingRollout[]> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 2000;
  const last = new Map<ObjectRef, string>();
  let pending = [...refs];
  for (;;) {
    const next: ObjectRef[] = [];
    for (const ref of pending) {
      const status = rolloutStatus(ref.kind, ref.name, (await client.readWorkload(ref)) as WorkloadView | undefined);
      if (last.get(ref) !== status.message) {
        last.set(ref, status.message);
        options.onStatus?.(ref, status);
      }
      if (status.failed === true) throw new KubeError(`${describeRef(ref)}: ${status.message}`, { hint: `see \`kubectl -n ${ref.namespace ?? 'default'} describe ${ref.kind.toLowerCase()} ${ref.name}\` and its pods' events` });
      if (!status.done) next.push(ref);
    }
    pending = next;
    if (pending.length === 0) return [];
    const wait = Math.min(pollMs, deadline - Date.now());
    if (wait <= 0) return pending.map((ref) => ({ ref, message: last.get(ref) ?? '' }));
    await sleep(wait, options.signal);
  }
}
