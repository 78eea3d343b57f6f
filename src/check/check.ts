/**
 * `airgap check`: before anything is deployed, what will fail — the registry, Juju, the cluster and its
 * DNS — as lines of ok / warn / fail with the fix, like `sky check`. The sections run at once (each
 * may wait on a network timeout) and are reported in a fixed order.
 */
import { checkContainerdConfig, type ContainerdCheckOptions } from './containerd.ts';
import { checkJuju, type JujuCheckOptions } from './juju.ts';
import { checkKubernetes, type KubeCheckOptions } from './kubernetes.ts';
import { checkRegistry, type RegistryCheckOptions } from './registry.ts';
import { result, type CheckResult } from './types.ts';

export interface CheckOptions {
  /** Undefined: no --registry given, the section is skipped. */
  registry?: RegistryCheckOptions | undefined;
  juju: JujuCheckOptions;
  kubernetes: KubeCheckOptions;
  /** --containerd-config DIR: checked only when given, after the other sections. */
  containerd?: ContainerdCheckOptions | undefined;
  /** The parts about to be checked, then each part's results, in report order, as soon as it is done. */
  onEvent?: (event: CheckEvent) => void;
}

/** What runs at once: the registry, Juju, Kubernetes (with CoreDNS), and containerd's hosts.toml when asked. */
export type CheckPart = 'registry' | 'juju' | 'kubernetes' | 'containerd';

export type CheckEvent =
  | { type: 'checking'; parts: CheckPart[] }
  | { type: 'checked'; part: CheckPart; results: CheckResult[] };

export interface CheckReport {
  results: CheckResult[];
  failed: number;
  warned: number;
}

export async function runChecks(options: CheckOptions): Promise<CheckReport> {
  const parts: [CheckPart, Promise<CheckResult[]>][] = [
    ['registry', options.registry === undefined
      ? Promise.resolve([result('registry', 'skip', 'registry', 'no --registry given')])
      : checkRegistry(options.registry)],
    ['juju', checkJuju(options.juju)],
    ['kubernetes', checkKubernetes(options.kubernetes)],
  ];
  if (options.containerd !== undefined) parts.push(['containerd', checkContainerdConfig(options.containerd)]);
  // Started together, reported in order: a slow registry does not hold up the others' work.
  for (const [, checking] of parts) checking.catch(() => {});
  options.onEvent?.({ type: 'checking', parts: parts.map(([part]) => part) });
  const results: CheckResult[] = [];
  for (const [part, checking] of parts) {
    const found = await checking;
    results.push(...found);
    options.onEvent?.({ type: 'checked', part, results: found });
  }
  return { results, failed: results.filter((r) => r.status === 'fail').length, warned: results.filter((r) => r.status === 'warn').length };
}
