/** Progress of the Kubernetes part of a deploy, for the CLI to render; the library itself never prints. */
import { describeRef, type ObjectRef } from './objects.ts';
import { describePullFailure, type PullFailure } from './pod-status.ts';

export type KubeEvent =
  | { type: 'kube-target'; context: string | undefined; server: string | undefined; namespace: string; source: string | undefined }
  | { type: 'kube-skipped'; reason: string; files: string[] }
  | { type: 'kube-changes'; changes: string[] }
  | { type: 'kube-apply'; ref: ObjectRef; dryRun: boolean }
  | { type: 'kube-rollout'; ref: ObjectRef; message: string; done: boolean }
  | { type: 'image-pull-failed'; failure: PullFailure; hint: string | undefined }
  | { type: 'warning'; message: string };

export type KubeEventListener = (event: KubeEvent) => void;

/**
 * The lines for an event (usually one), or undefined for one not worth a line. Lines starting `warning:`
 * belong on stderr. Lines, not text with newlines: the printer escapes what each holds.
 */
export function describeKubeEvent(event: KubeEvent): string[] | undefined {
  const line = describeKubeEventLine(event);
  if (line === undefined) return undefined;
  return typeof line === 'string' ? [line] : line;
}

function describeKubeEventLine(event: KubeEvent): string | string[] | undefined {
  switch (event.type) {
    case 'kube-target':
      return event.context === undefined
        ? `Kubernetes: no kubeconfig; namespace ${event.namespace} for objects that name none`
        : `Kubernetes: context ${event.context} (${event.server ?? '?'}) from ${event.source ?? '?'}, namespace ${event.namespace}`;
    case 'kube-skipped':
      return `skip (${event.reason}): apply ${event.files.join(', ')}`;
    case 'kube-changes':
      return event.changes.length === 0 ? undefined : event.changes.map((c) => `  ${c}`);
    case 'kube-apply':
      return `${event.dryRun ? 'would apply' : 'applied'}: ${describeRef(event.ref)}`;
    case 'kube-rollout':
      return `${describeRef(event.ref)}: ${event.message}`;
    case 'image-pull-failed':
      return `warning: ${describePullFailure(event.failure)}${event.hint === undefined ? '' : ` (${event.hint})`}`;
    case 'warning':
      return `warning: ${event.message}`;
  }
}
