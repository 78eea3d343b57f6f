/** Progress of the Kubernetes part of a deploy, for the CLI to render; the library itself never prints. */
import type { ObjectRef } from './objects.ts';
import type { PullFailure } from './pod-status.ts';

export type KubeEvent =
  | { type: 'kube-target'; context: string | undefined; server: string | undefined; namespace: string; source: string | undefined }
  | { type: 'kube-skipped'; reason: string; files: string[] }
  | { type: 'kube-changes'; changes: string[] }
  | { type: 'kube-apply'; ref: ObjectRef; dryRun: boolean }
  | { type: 'kube-rollout'; ref: ObjectRef; message: string; done: boolean }
  | { type: 'image-pull-failed'; failure: PullFailure; hint: string | undefined }
  | { type: 'warning'; message: string };

export type KubeEventListener = (event: KubeEvent) => void;
