/**
 * What a packed charm runs on, for the Juju images an air gap must carry: Juju starts a sidecar charm's pod
 * from `charm-base:<base>` of the bases its manifest.yaml names, while a PodSpec charm (metadata.yaml with
 * `series:`, Juju's charm format 1) runs in an operator pod of jujud-operator and needs no charm-base.
 * Read in place through the zip's directory, as every charm is here.
 */
import { charmManifestBases, type CharmBase } from '../config/juju-images.ts';
import { parseSmallYaml, plainValue } from '../yaml/documents.ts';
import { CharmZip } from './zip.ts';

export type CharmRuntime =
  /** Juju's charm format 2: its pod's charm container runs charm-base of these bases. */
  | { kind: 'sidecar'; bases: CharmBase[] }
  /** Charm format 1 (`series:` in metadata.yaml): an operator pod, no charm-base. */
  | { kind: 'podspec' }
  /** No manifest.yaml (a charm not packed by charmcraft): the base it runs on cannot be known. */
  | { kind: 'unknown' };

/** `series:` in metadata.yaml is what makes Juju read a charm as format 1 (charm.MetaFormat). */
function hasSeries(metadataYaml: string, file: string): boolean {
  // From a charm file, that is from outside: through the shared reader and its limits.
  const doc: unknown = plainValue(parseSmallYaml(`${file}!metadata.yaml`, metadataYaml)[0]);
  const series = typeof doc === 'object' && doc !== null ? (doc as { series?: unknown }).series : undefined;
  return Array.isArray(series) ? series.length > 0 : series !== undefined && series !== null;
}

/** How the charm in `file` runs on Kubernetes; `name` is how messages name it. */
export async function readCharmRuntime(file: string, name = file): Promise<CharmRuntime> {
  const zip = await CharmZip.open(file);
  try {
    const metadata = await zip.text('metadata.yaml');
    if (metadata !== undefined && hasSeries(metadata, name)) return { kind: 'podspec' };
    const manifest = await zip.text('manifest.yaml');
    if (manifest === undefined) return { kind: 'unknown' };
    return { kind: 'sidecar', bases: charmManifestBases(manifest, name) };
  } finally {
    zip.close();
  }
}
