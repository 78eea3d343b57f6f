/**
 * The Kubernetes manifest scanner: the `image` of every container of every workload kind, in a
 * multi-document file. Other objects (Services, ConfigMaps, CRDs) hold no image to pull and are skipped.
 */
import type { YAMLMap } from 'yaml';
import { messageOf } from '../errors.ts';
import { parseReference } from '../reference.ts';
import type { Candidate } from './mentions.ts';
import { asMap, asSeq, deref, describeNode, errorAt, get, lineOf, stringValue } from './yaml.ts';
import type { YamlDoc } from './yaml.ts';

/** Where each workload kind keeps its pod spec. */
export const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

export function isKubernetesMap(y: YamlDoc, map: YAMLMap): boolean {
  return get(y, map, 'apiVersion') !== undefined && get(y, map, 'kind') !== undefined;
}

/** The container images of every workload in the documents, in file order. */
export function scanKubernetes(docs: readonly YamlDoc[]): Candidate[] {
  const candidates: Candidate[] = [];
  for (const y of docs) {
    const root = asMap(y.doc.contents);
    if (root !== undefined) scanObject(y, root, candidates);
  }
  return candidates;
}

function scanObject(y: YamlDoc, object: YAMLMap, candidates: Candidate[]): void {
  const kind = stringValue(get(y, object, 'kind')?.value);
  if (kind === undefined) return;
  if (kind === 'List' || kind.endsWith('List')) {
    for (const item of asSeq(get(y, object, 'items')?.value)?.items ?? []) {
      const map = asMap(deref(y, item));
      if (map !== undefined) scanObject(y, map, candidates);
    }
    return;
  }
  const specPath = POD_SPEC_PATHS[kind];
  if (specPath === undefined) return;
  const metadata = asMap(get(y, object, 'metadata')?.value);
  const name = (metadata === undefined ? undefined : stringValue(get(y, metadata, 'name')?.value)) ?? '';
  let spec: YAMLMap | undefined = object;
  for (const key of specPath) {
    spec = spec === undefined ? undefined : asMap(get(y, spec, key)?.value);
  }
  if (spec === undefined) return;
  const prefix = `${kind}/${name}:${specPath.join('.')}`;
  for (const listKey of CONTAINER_LISTS) {
    const list = get(y, spec, listKey);
    if (list === undefined) continue;
    const containers = asSeq(list.value);
    if (containers === undefined) throw errorAt(y, list.value ?? list.keyNode, `${prefix}.${listKey} must be a list, found ${describeNode(list.value)}`);
    containers.items.forEach((item, index) => {
      const container = asMap(deref(y, item));
      const image = container === undefined ? undefined : get(y, container, 'image');
      if (image === undefined) return;
      const yamlPath = `${prefix}.${listKey}[${index}].image`;
      const reference = stringValue(image.value);
      if (reference === undefined) throw errorAt(y, image.value ?? image.keyNode, `${yamlPath} must be a string, found ${describeNode(image.value)}`);
      try {
        parseReference(reference);
      } catch (err: unknown) {
        throw errorAt(y, image.value, `${yamlPath}: ${messageOf(err)}`, undefined, err);
      }
      candidates.push({ reference, file: y.file, yamlPath, line: lineOf(y, image.value), origin: 'found' });
    });
  }
}
