/**
 * Kubernetes objects as plain JSON read from (rewritten) manifest text, with where each came from, and
 * the scope of each kind: which objects live in a namespace is what decides where a pull secret goes.
 */
import { ReleaseFileError } from '../errors.ts';
import { lineOf, parseYamlDocuments } from '../release/yaml.ts';
import { plainValue } from '../yaml/documents.ts';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json | undefined;
}

export interface KubeObject extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string };
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  /** Undefined for cluster-scoped objects. */
  namespace: string | undefined;
  name: string;
}

/** An object of a manifest file, in file order. */
export interface SourcedObject {
  object: KubeObject;
  file: string;
  line: number | undefined;
}

export type Scope = 'Namespaced' | 'Cluster';

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function refOf(object: KubeObject): ObjectRef {
  return { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name };
}

/** `Deployment kubeflow/web`, `Namespace kubeflow`: as an operator reads it. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace === undefined ? '' : `${ref.namespace}/`}${ref.name}`;
}

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Every object of a multi-document manifest text; `List` kinds are opened, empty documents skipped. */
export async function parseManifestObjects(file: string, text: string, signal?: AbortSignal): Promise<SourcedObject[]> {
  const objects: SourcedObject[] = [];
  for (const y of await parseYamlDocuments(file, text, { signal })) {
    const value = plainValue(y);
    if (value === null || value === undefined) continue;
    const line = lineOf(y, y.doc.contents);
    const add = (candidate: unknown, where: string): void => {
      if (!isJsonObject(candidate)) throw new ReleaseFileError(file, `${where} is not a Kubernetes object (a mapping with apiVersion:, kind: and metadata.name:)`, { line });
      const { apiVersion, kind, metadata } = candidate;
      if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(candidate['items'])) {
        candidate['items'].forEach((item, index) => add(item, `${kind} item ${index}`));
        return;
      }
      if (typeof apiVersion !== 'string' || typeof kind !== 'string') throw new ReleaseFileError(file, `${where} has no apiVersion: or kind:`, { line });
      if (!isJsonObject(metadata) || typeof metadata['name'] !== 'string' || metadata['name'] === '') {
        const generated = isJsonObject(metadata) && typeof metadata['generateName'] === 'string';
        throw new ReleaseFileError(file, `${kind} ${where} has no metadata.name`, {
          line,
          hint: generated ? 'server-side apply needs a fixed name: replace generateName with name' : 'give every object a metadata.name',
        });
      }
      if (metadata['namespace'] !== undefined && typeof metadata['namespace'] !== 'string') throw new ReleaseFileError(file, `${kind} ${metadata['name']}: metadata.namespace must be a string`, { line });
      objects.push({ object: candidate as KubeObject, file, line });
    };
    add(value, 'the document');
  }
  return objects;
}

/** Built-in kinds that belong to no namespace. Every other kind of a built-in group is namespaced. */
const CLUSTER_KINDS = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'ComponentStatus',
  'ClusterRole', 'ClusterRoleBinding',
  'CustomResourceDefinition', 'APIService',
  'StorageClass', 'CSIDriver', 'CSINode', 'VolumeAttachment',
  'PriorityClass', 'RuntimeClass', 'IngressClass',
  'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
  'CertificateSigningRequest', 'FlowSchema', 'PriorityLevelConfiguration', 'ClusterTrustBundle',
]);

/** Groups served by Kubernetes itself (`apps`, `batch`, `*.k8s.io`), whose kinds this file knows. */
export function isBuiltInGroup(group: string): boolean {
  return group === '' || !group.includes('.') || group.endsWith('.k8s.io');
}

/** The scope of a built-in kind, or undefined for a custom resource (the CRD or the server knows). */
export function builtInScope(apiVersion: string, kind: string): Scope | undefined {
  if (!isBuiltInGroup(groupOf(apiVersion))) return undefined;
  return CLUSTER_KINDS.has(kind) ? 'Cluster' : 'Namespaced';
}

/** `group/kind` -> scope, for the CustomResourceDefinitions among the objects. */
export function crdScopes(objects: readonly SourcedObject[]): Map<string, Scope> {
  const scopes = new Map<string, Scope>();
  for (const { object } of objects) {
    if (object.kind !== 'CustomResourceDefinition') continue;
    const spec = object['spec'];
    if (!isJsonObject(spec) || typeof spec['group'] !== 'string' || !isJsonObject(spec['names'])) continue;
    const kind = spec['names']['kind'];
    if (typeof kind !== 'string') continue;
    scopes.set(`${spec['group']}/${kind}`, spec['scope'] === 'Cluster' ? 'Cluster' : 'Namespaced');
  }
  return scopes;
}
