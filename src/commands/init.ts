import { writeRendering } from '../config/rendered.ts';
import { renderReleaseSkeleton } from '../config/release-skeleton.ts';
import { UsageError } from '../errors.ts';
import type { CommandIo } from './io.ts';

export interface InitCommandOptions {
  output?: string;
  name?: string;
  releaseVersion?: string;
  placeholder?: string;
  force: boolean;
  json: boolean;
}

/** `airgap init RELEASE-FILE`: writes airgap.yaml for it, never over an existing file without --force. */
export async function initCommand(source: string | undefined, options: InitCommandOptions, io: CommandIo): Promise<void> {
  if (source === undefined) throw new UsageError('airgap init needs the file to describe', { hint: 'give a Juju bundle.yaml, a Kubernetes manifest or an image list (.txt)' });
  const skeleton = await renderReleaseSkeleton({ source, output: options.output, name: options.name, version: options.releaseVersion, placeholder: options.placeholder });
  const [written] = await writeRendering(skeleton.rendering, skeleton.output, options.force);
  const summary = {
    output: skeleton.output,
    outcome: written?.outcome ?? 'written',
    kind: skeleton.kind,
    placeholder: skeleton.placeholder ?? null,
    images: skeleton.images,
    undecided: skeleton.undecided,
    ignored: skeleton.ignored,
  };
  if (options.json) {
    io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  io.stdout(
    `${summary.outcome === 'written' ? 'wrote' : 'unchanged'} ${skeleton.output}: a ${skeleton.kind} release, ${skeleton.images} image(s) to collect` +
      `${skeleton.placeholder === undefined ? ', no placeholder host found' : `, placeholder ${skeleton.placeholder}`}` +
      `${skeleton.undecided > 0 ? `, ${skeleton.undecided} reference(s) left commented` : ''}${skeleton.ignored > 0 ? `, ${skeleton.ignored} ignored` : ''}\n` +
      `  read the lines marked "check:", then: airgap collect ${skeleton.output}\n`,
  );
}
