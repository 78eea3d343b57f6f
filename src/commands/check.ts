import { runChecks } from '../check/check.ts';
import { checkReporters } from '../cli/check-report.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import { AirgapError } from '../errors.ts';
import { credentialsFromFlags } from './credentials.ts';
import type { CommandIo } from './io.ts';
import type { CheckCommandOptions } from '../cli/command-line.ts';

/** `airgap check`: exit 1 when any line is a fail. */
export async function checkCommand(options: CheckCommandOptions, io: CommandIo): Promise<void> {
  const credentials = await credentialsFromFlags(options, io);
  const reporter = reporterFor(checkReporters, io, options.json);
  const report = await reporting(reporter, async () => {
    const done = await runChecks({
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
      onEvent: (event) => reporter.onEvent(event),
    });
    reporter.onEvent({ type: 'report', report: done });
    return done;
  });
  if (report.failed > 0) {
    throw new AirgapError(`${report.failed} check(s) failed: ${report.results.filter((r) => r.status === 'fail').map((r) => `${r.section} ${r.what}`).join(', ')}`, { hint: 'each fail line says what to do' });
  }
}
