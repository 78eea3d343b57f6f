/**
 * Which kind of release file was given, decided from its name and content: an image list by its `.txt`
 * name, YAML by the keys it holds. A file that is none of them is refused with what it looks like.
 */
import path from 'node:path';
import { ReleaseFileError } from '../errors.ts';
import { isBundleMap } from './bundle.ts';
import { isKubernetesMap } from './kubernetes.ts';
import { MANIFEST_KEYS, isManifestMap } from './manifest.ts';
import { asMap, describeNode, entries, errorAt, parseYamlDocuments, readReleaseText } from './yaml.ts';
import type { YamlDoc } from './yaml.ts';

export type DetectedRelease =
  | { kind: 'image-list'; file: string; text: string }
  | { kind: 'airgap' | 'bundle'; file: string; doc: YamlDoc }
  | { kind: 'kubernetes'; file: string; docs: YamlDoc[] };

const HINT = 'give an airgap.yaml release manifest, a Juju bundle (applications:), Kubernetes manifests (apiVersion: and kind:) or an image list (.txt)';

export async function detectRelease(file: string, signal?: AbortSignal): Promise<DetectedRelease> {
  const text = await readReleaseText(file);
  if (path.extname(file).toLowerCase() === '.txt') return { kind: 'image-list', file, text };
  return detectYaml(file, await parseYamlDocuments(file, text, { signal }));
}

export function detectYaml(file: string, all: readonly YamlDoc[]): DetectedRelease {
  // Empty documents (a trailing `---`) say nothing about the file.
  const docs = all.filter((y) => describeNode(y.doc.contents) !== 'nothing');
  const first = docs[0];
  if (first === undefined) throw new ReleaseFileError(file, 'the file is empty', { hint: HINT });

  if (docs.length > 1) {
    const stray = docs.find((y) => {
      const map = asMap(y.doc.contents);
      return map === undefined || !isKubernetesMap(y, map);
    });
    if (stray === undefined) return { kind: 'kubernetes', file, docs };
    throw errorAt(stray, stray.doc.contents, `${docs.length} YAML documents, but this one is not a Kubernetes object (no apiVersion: and kind:); it is ${looksLike(stray)}`, HINT);
  }

  const map = asMap(first.doc.contents);
  if (map !== undefined) {
    if (isBundleMap(first, map)) return { kind: 'bundle', file, doc: first };
    if (isKubernetesMap(first, map)) return { kind: 'kubernetes', file, docs };
    if (isManifestMap(first, map)) return { kind: 'airgap', file, doc: first };
  }
  throw new ReleaseFileError(file, `not a release file: it is ${looksLike(first)}`, {
    hint: `${HINT}; an airgap.yaml has some of: ${MANIFEST_KEYS.join(', ')}`,
  });
}

function looksLike(y: YamlDoc): string {
  const map = asMap(y.doc.contents);
  if (map === undefined) return `YAML holding ${describeNode(y.doc.contents)}`;
  const keys = entries(y, map).map((entry) => entry.key);
  const shown = keys.slice(0, 6).join(', ') + (keys.length > 6 ? ', ...' : '');
  return `a YAML mapping with keys ${shown}`;
}
