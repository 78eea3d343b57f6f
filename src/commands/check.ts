import { runChecks } from '../check/check.ts';
import type { CheckResult } from '../check/types.ts';
import { AirgapError } from '../errors.ts';
import { credentialsFromFlags } from './credentials.ts';
import type { CommandIo } from './io.ts';
import { printable } from '../util/printable.ts';

export interface CheckCommandOptions {
  registry?: string;
  caFile: string[];
  plainHttp: string[];
  username?: string;
  passwordStdin?: boolean;
  juju?: string;
  model?: string;
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  gpus: boolean;
  containerdConfig?: string;
  json: boolean;
}

/** `ok    registry    certificate trusted   issued by ...; fix: ...`: columns for the eye, one line for grep. */
export function formatCheckLine(r: CheckResult): string {
  // The detail quotes registries, clusters and Juju: escaped, it stays one line.
  return printable(`${r.status.padEnd(4)}  ${r.section.padEnd(10)}  ${r.what.padEnd(20)}  ${r.detail}${r.fix === undefined ? '' : `; fix: ${r.fix}`}`);
}

/** `airgap check`: exit 1 when any line is a fail. */
export async function checkCommand(options: CheckCommandOptions, io: CommandIo): Promise<void> {
  const credentials = await credentialsFromFlags(options, io);
  const report = await runChecks({
    registry: options.registry === undefined ? undefined : {
      registry: options.registry,
      caFiles: options.caFile,
      plainHttp: options.plainHttp,
      credentials,
      signal: io.signal,
    },
    juju: { jujuPath: options.juju, model: options.model, registry: options.registry },
    containerd: options.containerdConfig === undefined ? undefined : { dir: options.containerdConfig, registry: options.registry, caFiles: options.caFile },
    kubernetes: { kubeconfig: options.kubeconfig, context: options.context, namespace: options.namespace, gpus: options.gpus },
    onResult: (r) => {
      if (!options.json) io.stdout(`${formatCheckLine(r)}\n`);
    },
  });
  if (options.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const count = (status: CheckResult['status']): number => report.results.filter((r) => r.status === status).length;
    io.stdout(`${report.failed} failed, ${report.warned} warning(s), ${count('ok')} ok, ${count('skip')} skipped\n`);
  }
  if (report.failed > 0) {
    throw new AirgapError(`${report.failed} check(s) failed: ${report.results.filter((r) => r.status === 'fail').map((r) => `${r.section} ${r.what}`).join(', ')}`, { hint: 'each fail line says what to do' });
  }
}
