import type { RewrittenReference, UnreachableReference } from '../bundle/rewrite.ts';
import type { KubeEvent } from '../kube/events.ts';

/** Progress of a deploy, for the CLI to render; the library itself never prints. */
export type DeployEvent =
  | { type: 'rewritten'; file: string; output: string | undefined; references: RewrittenReference[] }
  | { type: 'unreachable'; file: string; references: UnreachableReference[] }
  | { type: 'image-checked'; reference: string; digest: string | undefined; ok: boolean }
  | { type: 'action'; description: string; command: readonly string[]; skipped: boolean; reason?: string }
  | { type: 'waiting'; applications: readonly string[]; notReady: { application: string; unit: string | undefined; status: string; message: string }[] }
  | { type: 'waited'; applications: readonly string[] }
  | { type: 'warning'; message: string }
  | KubeEvent;

export type DeployEventListener = (event: DeployEvent) => void;
