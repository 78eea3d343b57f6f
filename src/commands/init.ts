import { writeRendering } from '../config/rendered.ts';
import { renderReleaseSkeleton } from '../config/release-skeleton.ts';
import { UsageError } from '../errors.ts';
import { initReporters } from '../cli/config-report.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import type { CommandIo } from './io.ts';
import type { InitCommandOptions } from '../cli/command-line.ts';

/** `airgap init RELEASE-FILE`: writes airgap.yaml for it, never over an existing file without --force. */
export async function initCommand(source: string | undefined, options: InitCommandOptions, io: CommandIo): Promise<void> {
  if (source === undefined) throw new UsageError('airgap init needs the file to describe', { hint: 'give a Juju bundle.yaml, a Kubernetes manifest or an image list (.txt)' });
  const skeleton = await renderReleaseSkeleton({ source, output: options.output, name: options.name, version: options.releaseVersion, placeholder: options.placeholder });
  const reporter = reporterFor(initReporters, io, options.json);
  await reporting(reporter, async () => {
    const [written] = await writeRendering(skeleton.rendering, skeleton.output, options.force);
    reporter.onEvent({ type: 'written', skeleton, written });
  });
}
