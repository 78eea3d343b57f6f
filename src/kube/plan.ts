/**
 * What to apply, in which order, and in which namespace: pure, so that a dry run shows exactly what a
 * real run sends. Order: Namespaces and CustomResourceDefinitions first (everything else may live in
 * or be one of them), then the pull secrets, then every other object in file order.
 */
import { AirgapError } from '../errors.ts';
import { describeRef, groupOf, refOf, type KubeObject, type ObjectRef, type Scope, type SourcedObject } from './objects.ts';
import { pullSecretObject, type PullSecretSpec } from './pull-secret.ts';
import { ROLLOUT_KINDS, addImagePullSecret, markInternal, mergeEnv, proxyVariables, toNodePort, type Cloud, type ProxySettings } from './transforms.ts';

export interface ApplyPlanOptions {
  /** The namespace of namespaced objects that name none: -n, or the context's. */
  namespace: string;
  /** -n was given: an object naming another namespace is refused, as kubectl does. */
  namespaceExplicit: boolean;
  scopeOf: (apiVersion: string, kind: string) => Scope;
  pullSecret?: PullSecretSpec | undefined;
  proxy?: ProxySettings | undefined;
  internalServices?: Cloud | undefined;
  serviceType?: 'NodePort' | undefined;
}

export interface PlannedObject {
  object: KubeObject;
  ref: ObjectRef;
  /** Where it was written; undefined for what airgap adds (the pull secrets). */
  file: string | undefined;
  line: number | undefined;
}

export interface ApplyPlan {
  objects: PlannedObject[];
  /** The namespaces namespaced objects go to, in order of first use. */
  namespaces: string[];
  /** Deployments, StatefulSets and DaemonSets, whose rollouts are waited for. */
  rollouts: ObjectRef[];
  /** What the air-gap settings changed, one line each. */
  changes: string[];
}

function rank(object: KubeObject): number {
  if (object.kind === 'Namespace' && object.apiVersion === 'v1') return 0;
  if (object.kind === 'CustomResourceDefinition') return 1;
  return 3;
}

function keyOf(ref: ObjectRef): string {
  // Two versions of one kind are one object: the group, not the version, names it.
  return `${groupOf(ref.apiVersion)}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

function list(refs: readonly ObjectRef[]): string {
  const shown = refs.slice(0, 5).map(describeRef).join(', ');
  return refs.length > 5 ? `${shown} and ${refs.length - 5} more` : shown;
}

export function planApply(sources: readonly SourcedObject[], options: ApplyPlanOptions): ApplyPlan {
  const planned: (PlannedObject & { rank: number })[] = [];
  const seen = new Map<string, PlannedObject>();
  const namespaces: string[] = [];
  const withSecret: ObjectRef[] = [];
  const withProxy: ObjectRef[] = [];
  let proxiedContainers = 0;
  const changes: string[] = [];
  const vars = proxyVariables(options.proxy ?? {});

  for (const source of sources) {
    // The manifest as read stays untouched: what is sent is a copy with the settings applied.
    const object = structuredClone(source.object);
    const scope = options.scopeOf(object.apiVersion, object.kind);
    if (scope === 'Namespaced') {
      const written = object.metadata.namespace;
      if (written !== undefined && options.namespaceExplicit && written !== options.namespace) {
        throw new AirgapError(`${source.file}${source.line === undefined ? '' : `:${source.line}`}: ${object.kind} ${object.metadata.name} is in namespace ${written}, but -n ${options.namespace} was given`, {
          hint: `drop -n, or pass -n ${written}, as kubectl would ask`,
        });
      }
      object.metadata.namespace = written ?? options.namespace;
      if (!namespaces.includes(object.metadata.namespace)) namespaces.push(object.metadata.namespace);
    } else {
      delete object.metadata.namespace;
    }
    const ref = refOf(object);
    const before = seen.get(keyOf(ref));
    if (before !== undefined) {
      throw new AirgapError(`${describeRef(ref)} is defined twice: in ${source.file}${source.line === undefined ? '' : `:${source.line}`} and in ${before.file ?? '?'}${before.line === undefined ? '' : `:${before.line}`}`, {
        hint: 'keep one of them: the second would silently replace the first',
      });
    }

    if (options.pullSecret !== undefined && addImagePullSecret(object, options.pullSecret.name)) withSecret.push(ref);
    const touched = mergeEnv(object, vars);
    if (touched > 0) {
      proxiedContainers += touched;
      withProxy.push(ref);
    }
    if (options.serviceType === 'NodePort') {
      const dropped = toNodePort(object);
      if (dropped !== undefined) changes.push(`${describeRef(ref)}: LoadBalancer -> NodePort${dropped.length === 0 ? '' : ` (dropped ${dropped.join(', ')}, which only a LoadBalancer takes)`}`);
    }
    if (options.internalServices !== undefined && markInternal(object, options.internalServices)) {
      changes.push(`${describeRef(ref)}: internal load balancer only (${options.internalServices})`);
    }

    const entry = { object, ref, file: source.file, line: source.line, rank: rank(object) };
    seen.set(keyOf(ref), entry);
    planned.push(entry);
  }

  if (options.pullSecret !== undefined) {
    for (const namespace of namespaces) {
      const object = pullSecretObject(options.pullSecret, namespace);
      const ref = refOf(object);
      if (seen.has(keyOf(ref))) {
        throw new AirgapError(`the manifests define ${describeRef(ref)}, the name airgap gives the pull secret it makes from --username`, {
          hint: 'rename that Secret, or leave out --username to use the one of the manifests',
        });
      }
      planned.push({ object, ref, file: undefined, line: undefined, rank: 2 });
    }
    if (withSecret.length > 0) changes.push(`imagePullSecrets ${options.pullSecret.name} added to ${withSecret.length} workload(s): ${list(withSecret)}`);
  }
  if (withProxy.length > 0) {
    changes.push(`${vars.map((v) => v.name).join(', ')} set in ${proxiedContainers} container(s) of ${withProxy.length} workload(s): ${list(withProxy)}`);
  }

  // A stable sort: within a rank, file order.
  const objects = planned.map((p, index) => ({ p, index })).sort((a, b) => a.p.rank - b.p.rank || a.index - b.index).map(({ p }) => ({ object: p.object, ref: p.ref, file: p.file, line: p.line }));
  const rollouts = objects.filter((o) => ROLLOUT_KINDS.has(o.ref.kind) && o.ref.apiVersion === 'apps/v1').map((o) => o.ref);
  return { objects, namespaces, rollouts, changes };
}
