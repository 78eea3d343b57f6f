/**
 * The air-gap settings applied to objects before they are sent: a pull secret on every pod, the proxy
 * variables in every container, internal-only load balancers. Each function changes the object it is
 * given (the planner hands it a copy) and says what it did, so a dry run can show it.
 */
import { groupOf, isBuiltInGroup, isJsonObject, type Json, type JsonObject, type KubeObject } from './objects.ts';
import { POD_SPEC_PATHS } from '../release/kubernetes.ts';

/** Kinds whose rollout `airgap deploy` waits for, as `kubectl rollout status` does. */
export const ROLLOUT_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** The pod spec of a workload of a built-in group (a custom resource named `Deployment` is not one). */
export function podSpecOf(object: KubeObject): JsonObject | undefined {
  const path = POD_SPEC_PATHS[object.kind];
  if (path === undefined || !isBuiltInGroup(groupOf(object.apiVersion))) return undefined;
  let node: Json | undefined = object;
  for (const key of path) {
    if (!isJsonObject(node)) return undefined;
    node = node[key];
  }
  return isJsonObject(node) ? node : undefined;
}

export function isWorkload(object: KubeObject): boolean {
  return podSpecOf(object) !== undefined;
}

function objectsIn(list: Json | undefined): JsonObject[] {
  return Array.isArray(list) ? list.filter(isJsonObject) : [];
}

/** Adds `name` to the pod's imagePullSecrets unless it is there; true when it was added. */
export function addImagePullSecret(object: KubeObject, name: string): boolean {
  const spec = podSpecOf(object);
  if (spec === undefined) return false;
  const current = Array.isArray(spec['imagePullSecrets']) ? spec['imagePullSecrets'] : [];
  if (current.some((entry) => isJsonObject(entry) && entry['name'] === name)) return false;
  spec['imagePullSecrets'] = [...current, { name }];
  return true;
}

export interface ProxySettings {
  /** --proxy URL: HTTP_PROXY and HTTPS_PROXY. */
  proxy?: string | undefined;
  /** --no-proxy LIST: NO_PROXY. */
  noProxy?: string | undefined;
}

/**
 * Cluster-internal names that must never go through the proxy, used when --proxy is given without
 * --no-proxy: a service talking to another through the site proxy fails in ways hard to trace.
 */
export const DEFAULT_NO_PROXY = 'localhost,127.0.0.1,.svc,.cluster.local';

/**
 * The variables to set, each name in both cases: curl, Go and Python read the lower-case ones first,
 * Java and most shells the upper-case ones, and neither reads the other (SkyPilot sets all six too).
 */
export function proxyVariables(settings: ProxySettings): { name: string; value: string }[] {
  const vars: { name: string; value: string }[] = [];
  if (settings.proxy !== undefined) {
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY']) vars.push({ name, value: settings.proxy }, { name: name.toLowerCase(), value: settings.proxy });
  }
  const noProxy = settings.noProxy ?? (settings.proxy === undefined ? undefined : DEFAULT_NO_PROXY);
  if (noProxy !== undefined) vars.push({ name: 'NO_PROXY', value: noProxy }, { name: 'no_proxy', value: noProxy });
  return vars;
}

/**
 * Sets `vars` in every container and init container of the workload, by name: an entry already there
 * with that name is replaced (the operator's flag is the newer word; a `valueFrom` goes with it), the
 * others are kept in their order. Returns how many containers it touched.
 */
export function mergeEnv(object: KubeObject, vars: readonly { name: string; value: string }[]): number {
  const spec = podSpecOf(object);
  if (spec === undefined || vars.length === 0) return 0;
  let touched = 0;
  for (const key of ['initContainers', 'containers']) {
    for (const container of objectsIn(spec[key])) {
      const env = objectsIn(container['env']);
      for (const v of vars) {
        const at = env.findIndex((e) => e['name'] === v.name);
        if (at >= 0) env[at] = { name: v.name, value: v.value };
        else env.push({ name: v.name, value: v.value });
      }
      container['env'] = env;
      touched++;
    }
  }
  return touched;
}

export type Cloud = 'aws' | 'gcp' | 'azure';
export const CLOUDS: readonly Cloud[] = ['aws', 'gcp', 'azure'];

/** The annotation each cloud's controller reads to give a LoadBalancer Service an internal address only. */
export const INTERNAL_LB_ANNOTATIONS: Readonly<Record<Cloud, { key: string; value: string }>> = {
  aws: { key: 'service.beta.kubernetes.io/aws-load-balancer-internal', value: 'true' },
  gcp: { key: 'networking.gke.io/load-balancer-type', value: 'Internal' },
  azure: { key: 'service.beta.kubernetes.io/azure-load-balancer-internal', value: 'true' },
};

function isLoadBalancer(object: KubeObject): boolean {
  const spec = object['spec'];
  return object.kind === 'Service' && object.apiVersion === 'v1' && isJsonObject(spec) && spec['type'] === 'LoadBalancer';
}

/** Annotates a LoadBalancer Service as internal-only for `cloud`; true when it is one. */
export function markInternal(object: KubeObject, cloud: Cloud): boolean {
  if (!isLoadBalancer(object)) return false;
  const { key, value } = INTERNAL_LB_ANNOTATIONS[cloud];
  const annotations = isJsonObject(object.metadata['annotations']) ? object.metadata['annotations'] : {};
  annotations[key] = value;
  object.metadata['annotations'] = annotations;
  return true;
}

/** Fields the API server refuses on a Service that is not of type LoadBalancer. */
const LOAD_BALANCER_ONLY = ['loadBalancerIP', 'loadBalancerSourceRanges', 'loadBalancerClass', 'allocateLoadBalancerNodePorts'];

/**
 * Turns a LoadBalancer Service into a NodePort one, as the Kubeflow air-gap guide does for its gateway
 * (an air-gapped cluster seldom has a load-balancer controller). Returns the fields it had to drop, or
 * undefined when the object is not a LoadBalancer Service.
 */
export function toNodePort(object: KubeObject): string[] | undefined {
  if (!isLoadBalancer(object)) return undefined;
  const spec = object['spec'] as JsonObject;
  spec['type'] = 'NodePort';
  const dropped = LOAD_BALANCER_ONLY.filter((field) => spec[field] !== undefined);
  for (const field of dropped) delete spec[field];
  return dropped;
}
