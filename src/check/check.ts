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
  /** Each result, in report order, as soon as its section is done. */
  onResult?: (result: CheckResult) => void;
}

export interface CheckReport {
  results: CheckResult[];
  failed: number;
  warned: number;
}

export async function runChecks(options: CheckOptions): Promise<CheckReport> {
  const sections: Promise<CheckResult[]>[] = [
    options.registry === undefined
      ? Promise.resolve([result('registry', 'skip', 'registry', 'no --registry given')])
      : checkRegistry(options.registry),
    checkJuju(options.juju),
    checkKubernetes(options.kubernetes),
    ...(options.containerd === undefined ? [] : [checkContainerdConfig(options.containerd)]),
  ];
  // Started together, reported in order: a slow registry does not hold up the others' work.
  for (const s of sections) s.catch(() => {});
  const results: CheckResult[] = [];
  for (const section of sections) {
    for (const r of await section) {
      results.push(r);
      options.onResult?.(r);
    }
  }
  return { results, failed: results.filter((r) => r.status === 'fail').length, warned: results.filter((r) => r.status === 'warn').length };
}
