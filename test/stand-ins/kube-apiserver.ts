/**
 * STAND-IN for a Kubernetes API server, for tests only: no Kubernetes API server can be installed on the
 * test machines (docs/architecture.md, "The test environment"). It speaks, over HTTPS with a bearer token, the endpoints airgap's
 * code calls through @kubernetes/client-node — version, discovery, server-side apply, get/list, the pod
 * watch, nodes — keeps objects in memory, and plays the controllers just enough for a rollout to finish,
 * or not: each container's image decides whether its pod runs, stays pending, or cannot pull its image.
 * It records every request so tests can assert what was applied, by whom, in which order.
 * See README.md beside it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';

type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [key: string]: Json | undefined;
}

export interface StandInNode {
  name: string;
  /** Default true. */
  ready?: boolean;
  /** The Ready condition's message when not ready. */
  message?: string;
  /** Allocatable `nvidia.com/gpu`; none when undefined. */
  gpus?: number;
  labels?: Record<string, string>;
}

/** What the stand-in kubelet does with a container, decided by its image. */
export type PodBehaviour = { phase: 'running' } | { phase: 'pending' } | { phase: 'pull-error'; message: string };

export interface StandInOptions {
  /** Where the CA, the kubeconfig and nothing else are written. */
  dir: string;
  /** gitVersion, default v1.29.2. */
  version?: string;
  nodes?: StandInNode[];
  /** kube-system/coredns's Corefile; null: no such ConfigMap. */
  corefile?: string | null;
  /** Namespaces that exist at start, besides default, kube-system and kube-public. */
  namespaces?: string[];
  /** The namespace of the kubeconfig's current context; none by default. */
  contextNamespace?: string;
  podBehaviour?: (image: string) => PodBehaviour;
  /** How long each controller step takes; default 100 ms. */
  stepMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  /** The parsed body (JSON or YAML), or undefined. */
  body: unknown;
  authorized: boolean;
}

export interface StandInKubeApiServer {
  url: string;
  /** A kubeconfig with contexts `stand-in` (current) and `other` (namespace `other`). */
  kubeconfig: string;
  ca: CertificateAuthority;
  token: string;
  requests: RecordedRequest[];
  /** The server-side apply PATCH requests, in order. */
  applies(): RecordedRequest[];
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): JsonObject | undefined;
  /** The pods of a namespace, as stored. */
  pods(namespace: string): JsonObject[];
  setPodBehaviour(behaviour: (image: string) => PodBehaviour): void;
  /** A pod made by someone else (Juju, say), whose containers then fare by podBehaviour. */
  addPod(namespace: string, name: string, containers: { name: string; image: string }[]): void;
  stop(): Promise<void>;
}

interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
}

const BUILT_IN: ResourceType[] = [
  ['', 'v1', 'namespaces', 'Namespace', false],
  ['', 'v1', 'configmaps', 'ConfigMap', true],
  ['', 'v1', 'secrets', 'Secret', true],
  ['', 'v1', 'services', 'Service', true],
  ['', 'v1', 'serviceaccounts', 'ServiceAccount', true],
  ['', 'v1', 'pods', 'Pod', true],
  ['', 'v1', 'nodes', 'Node', false],
  ['apps', 'v1', 'deployments', 'Deployment', true],
  ['apps', 'v1', 'statefulsets', 'StatefulSet', true],
  ['apps', 'v1', 'daemonsets', 'DaemonSet', true],
  ['batch', 'v1', 'jobs', 'Job', true],
  ['batch', 'v1', 'cronjobs', 'CronJob', true],
  ['apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false],
].map(([group, version, plural, kind, namespaced]) => ({
  group: group as string, version: version as string, plural: plural as string, singular: (kind as string).toLowerCase(), kind: kind as string, namespaced: namespaced as boolean,
}));

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function gv(r: { group: string; version: string }): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

function status(code: number, reason: string, message: string): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startStandInKubeApiServer(options: StandInOptions): Promise<StandInKubeApiServer> {
  const ca = await makeCertificateAuthority(join(options.dir, 'kube-ca'));
  const [cert, key] = await Promise.all([readFile(ca.certFile), readFile(ca.keyFile)]);
  const token = randomBytes(16).toString('hex');
  const stepMs = options.stepMs ?? 100;
  let behaviour = options.podBehaviour ?? ((): PodBehaviour => ({ phase: 'running' }));
  const version = options.version ?? 'v1.29.2';
  const requests: RecordedRequest[] = [];
  const types: ResourceType[] = [...BUILT_IN];
  /** key: group/plural/namespace/name */
  const store = new Map<string, JsonObject>();
  let resourceVersion = 100;
  const events: { rv: number; type: string; namespace: string; object: JsonObject }[] = [];
  const watchers = new Set<{ namespace: string | undefined; res: ServerResponse }>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const keyOf = (t: ResourceType, namespace: string | undefined, name: string): string => `${t.group}/${t.plural}/${namespace ?? ''}/${name}`;
  const typeOf = (apiVersion: string, kind: string): ResourceType | undefined => types.find((t) => gv(t) === apiVersion && t.kind === kind);
  const later = (fn: () => void, steps = 1): void => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopped) fn();
    }, stepMs * steps);
    timers.add(timer);
  };

  const bump = (object: JsonObject): void => {
    resourceVersion += 1;
    (object['metadata'] as JsonObject)['resourceVersion'] = String(resourceVersion);
  };
  const podEvent = (type: string, pod: JsonObject): void => {
    const namespace = String((pod['metadata'] as JsonObject)['namespace']);
    const snapshot = structuredClone(pod);
    events.push({ rv: resourceVersion, type, namespace, object: snapshot });
    for (const w of watchers) if (w.namespace === undefined || w.namespace === namespace) w.res.write(`${JSON.stringify({ type, object: snapshot })}\n`);
  };
  const put = (t: ResourceType, object: JsonObject): void => {
    const meta = object['metadata'] as JsonObject;
    bump(object);
    const key = keyOf(t, meta['namespace'] as string | undefined, String(meta['name']));
    const existed = store.has(key);
    store.set(key, object);
    if (t.kind === 'Pod') podEvent(existed ? 'MODIFIED' : 'ADDED', object);
  };
  const remove = (t: ResourceType, namespace: string | undefined, name: string): void => {
    const key = keyOf(t, namespace, name);
    const object = store.get(key);
    if (object === undefined) return;
    store.delete(key);
    bump(object);
    if (t.kind === 'Pod') podEvent('DELETED', object);
  };
  const list = (t: ResourceType, namespace: string | undefined): JsonObject[] =>
    [...store.entries()].filter(([k]) => k.startsWith(`${t.group}/${t.plural}/${namespace === undefined ? '' : `${namespace}/`}`)).map(([, v]) => v);

  const podType = types.find((t) => t.kind === 'Pod') as ResourceType;
  const nodeType = types.find((t) => t.kind === 'Node') as ResourceType;

  const meta = (name: string, namespace?: string): JsonObject => ({
    name, ...(namespace === undefined ? {} : { namespace }), uid: randomUUID(), creationTimestamp: new Date().toISOString(), resourceVersion: '0',
  });
  const nsType = types.find((t) => t.kind === 'Namespace') as ResourceType;
  for (const ns of ['default', 'kube-system', 'kube-public', ...(options.namespaces ?? [])]) {
    put(nsType, { apiVersion: 'v1', kind: 'Namespace', metadata: meta(ns), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  }
  const nodes = options.nodes ?? [{ name: 'node-1' }];
  for (const node of nodes) {
    put(nodeType, {
      apiVersion: 'v1', kind: 'Node', metadata: { ...meta(node.name), labels: { 'kubernetes.io/hostname': node.name, ...node.labels } }, spec: {},
      status: {
        conditions: [{ type: 'Ready', status: node.ready === false ? 'False' : 'True', reason: node.ready === false ? 'KubeletNotReady' : 'KubeletReady', message: node.ready === false ? (node.message ?? 'container runtime network not ready') : 'kubelet is posting ready status' }],
        capacity: { cpu: '4', memory: '16Gi', pods: '110', ...(node.gpus === undefined ? {} : { 'nvidia.com/gpu': String(node.gpus) }) },
        allocatable: { cpu: '4', memory: '16Gi', pods: '110', ...(node.gpus === undefined ? {} : { 'nvidia.com/gpu': String(node.gpus) }) },
        nodeInfo: { kubeletVersion: version, containerRuntimeVersion: 'containerd://1.7.0' },
      },
    });
  }
  if (options.corefile !== null) {
    const corefile = options.corefile ?? '.:53 {\n    errors\n    health\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n      fallthrough in-addr.arpa ip6.arpa\n    }\n    forward . 10.0.0.2\n    cache 30\n}\n';
    put(types.find((t) => t.kind === 'ConfigMap') as ResourceType, { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('coredns', 'kube-system'), data: { Corefile: corefile } });
  }

  // The controllers: a workload's pods follow its template; each container's image decides its fate.
  const podsOf = (namespace: string, owner: string): JsonObject[] =>
    list(podType, namespace).filter((p) => ((p['metadata'] as JsonObject)['ownerReferences'] as JsonObject[] | undefined)?.some((o) => o['name'] === owner) === true);

  const updateWorkloadStatus = (t: ResourceType, workload: JsonObject): void => {
    const m = workload['metadata'] as JsonObject;
    const namespace = String(m['namespace']);
    const name = String(m['name']);
    const pods = podsOf(namespace, name);
    const ready = pods.filter((p) => (p['status'] as JsonObject)['phase'] === 'Running').length;
    const generation = m['generation'] as number;
    const spec = workload['spec'] as JsonObject;
    switch (workload['kind']) {
      case 'Deployment':
        workload['status'] = {
          observedGeneration: generation, replicas: pods.length, updatedReplicas: pods.length, readyReplicas: ready, availableReplicas: ready,
          ...(ready < pods.length ? { unavailableReplicas: pods.length - ready } : {}),
          conditions: [{ type: 'Available', status: ready >= (spec['replicas'] as number) ? 'True' : 'False' }, { type: 'Progressing', status: 'True', reason: ready >= (spec['replicas'] as number) ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated' }],
        };
        break;
      case 'StatefulSet':
        workload['status'] = { observedGeneration: generation, replicas: pods.length, readyReplicas: ready, currentReplicas: pods.length, updatedReplicas: pods.length, currentRevision: `${name}-${generation}`, updateRevision: `${name}-${generation}`, availableReplicas: ready };
        break;
      case 'DaemonSet':
        workload['status'] = { observedGeneration: generation, desiredNumberScheduled: pods.length, currentNumberScheduled: pods.length, updatedNumberScheduled: pods.length, numberReady: ready, numberAvailable: ready, numberMisscheduled: 0 };
        break;
      default:
        workload['status'] = { active: pods.length - ready, ...(ready > 0 ? { succeeded: ready } : {}) };
    }
    put(t, workload);
  };

  const progressPod = (pod: JsonObject, step: number): void => {
    const m = pod['metadata'] as JsonObject;
    const current = store.get(keyOf(podType, String(m['namespace']), String(m['name'])));
    if (current !== pod) return;
    const spec = pod['spec'] as JsonObject;
    const statuses = (key: string): JsonObject[] => ((spec[key] as JsonObject[] | undefined) ?? []).map((c) => {
      const image = String(c['image'] ?? '');
      const b = behaviour(image);
      const state: JsonObject =
        b.phase === 'running' ? { running: { startedAt: new Date().toISOString() } }
        : b.phase === 'pending' ? { waiting: { reason: 'ContainerCreating' } }
        : step % 2 === 1 ? { waiting: { reason: 'ErrImagePull', message: b.message } }
        : { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } };
      return { name: c['name'] as string, image, imageID: '', ready: b.phase === 'running', restartCount: 0, started: b.phase === 'running', state };
    });
    const containerStatuses = statuses('containers');
    const initContainerStatuses = statuses('initContainers');
    const running = [...containerStatuses, ...initContainerStatuses].every((s) => s['ready'] === true);
    pod['status'] = {
      phase: running ? 'Running' : 'Pending',
      conditions: [{ type: 'Ready', status: running ? 'True' : 'False' }],
      containerStatuses,
      ...(initContainerStatuses.length > 0 ? { initContainerStatuses } : {}),
    };
    put(podType, pod);
    const owner = ((m['ownerReferences'] as JsonObject[] | undefined) ?? [])[0];
    if (owner !== undefined) {
      const t = types.find((x) => x.kind === owner['kind']) as ResourceType;
      const workload = store.get(keyOf(t, String(m['namespace']), String(owner['name'])));
      if (workload !== undefined) updateWorkloadStatus(t, workload);
    }
    // ErrImagePull, then ImagePullBackOff for a while, then again, as a kubelet retries.
    const pulling = containerStatuses.concat(initContainerStatuses).some((s) => /ImagePull/.test(String(((s['state'] as JsonObject)['waiting'] as JsonObject | undefined)?.['reason'] ?? '')));
    if (pulling) later(() => progressPod(pod, step + 1), step % 2 === 1 ? 1 : 10);
  };

  const reconcile = (t: ResourceType, workload: JsonObject): void => {
    const m = workload['metadata'] as JsonObject;
    const namespace = String(m['namespace']);
    const name = String(m['name']);
    for (const old of podsOf(namespace, name)) remove(podType, namespace, String((old['metadata'] as JsonObject)['name']));
    const spec = workload['spec'] as JsonObject;
    const template = (spec['template'] ?? {}) as JsonObject;
    const count =
      workload['kind'] === 'DaemonSet' ? nodes.filter((n) => n.ready !== false).length
      : workload['kind'] === 'Job' ? 1
      : (spec['replicas'] as number);
    const suffix = randomBytes(3).toString('hex');
    for (let i = 0; i < count; i++) {
      const podName = workload['kind'] === 'StatefulSet' ? `${name}-${i}` : `${name}-${suffix}-${randomBytes(2).toString('hex')}`;
      const pod: JsonObject = {
        apiVersion: 'v1', kind: 'Pod',
        metadata: { ...meta(podName, namespace), labels: (template['metadata'] as JsonObject | undefined)?.['labels'] ?? {}, ownerReferences: [{ apiVersion: String(workload['apiVersion']), kind: String(workload['kind']), name, uid: String(m['uid']), controller: true }] },
        spec: structuredClone((template['spec'] ?? {}) as JsonObject),
        status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] },
      };
      put(podType, pod);
      later(() => progressPod(pod, 1));
    }
    // The controller observes the new generation a moment after the apply, as a real one does.
    later(() => {
      const current = store.get(keyOf(t, namespace, name));
      if (current !== undefined) updateWorkloadStatus(t, current);
    });
  };

  const defaults = (object: JsonObject): void => {
    const spec = object['spec'];
    if (!isObject(spec)) return;
    if (object['kind'] === 'Deployment' || object['kind'] === 'StatefulSet') spec['replicas'] ??= 1;
    if (object['kind'] === 'StatefulSet') spec['updateStrategy'] ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
    if (object['kind'] === 'DaemonSet') spec['updateStrategy'] ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
  };

  const apply = (t: ResourceType, namespace: string | undefined, name: string, query: Record<string, string>, body: unknown): [number, JsonObject] => {
    if (!isObject(body)) return [400, status(400, 'BadRequest', 'the apply body is not an object')];
    if (body['apiVersion'] !== gv(t) || body['kind'] !== t.kind) return [400, status(400, 'BadRequest', `apiVersion/kind ${String(body['apiVersion'])}/${String(body['kind'])} does not match ${gv(t)}/${t.kind}`)];
    const bodyMeta = body['metadata'];
    if (!isObject(bodyMeta) || bodyMeta['name'] !== name) return [400, status(400, 'BadRequest', 'the name of the object does not match the name on the URL')];
    if (t.namespaced && bodyMeta['namespace'] !== undefined && bodyMeta['namespace'] !== namespace) return [400, status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request')];
    if (!query['fieldManager']) return [422, status(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')];
    if (t.namespaced && !store.has(keyOf(nsType, undefined, String(namespace)))) return [404, status(404, 'NotFound', `namespaces "${namespace}" not found`)];
    const key = keyOf(t, namespace, name);
    const existing = store.get(key);
    const object = structuredClone(body);
    const oldMeta = (existing?.['metadata'] ?? {}) as JsonObject;
    const specChanged = existing === undefined || JSON.stringify(existing['spec'] ?? null) !== JSON.stringify(object['spec'] ?? null);
    defaults(object);
    object['metadata'] = {
      ...bodyMeta,
      ...(t.namespaced ? { namespace } : {}),
      uid: (oldMeta['uid'] as string | undefined) ?? randomUUID(),
      creationTimestamp: (oldMeta['creationTimestamp'] as string | undefined) ?? new Date().toISOString(),
      generation: ((oldMeta['generation'] as number | undefined) ?? 0) + (specChanged ? 1 : 0),
      managedFields: [{ manager: query['fieldManager'], operation: 'Apply', apiVersion: gv(t), time: new Date().toISOString(), fieldsType: 'FieldsV1', fieldsV1: {} }],
    };
    if (existing?.['status'] !== undefined) object['status'] = existing['status'];
    if (t.kind === 'Namespace') object['status'] = { phase: 'Active' };
    if (t.kind === 'CustomResourceDefinition') {
      const spec = object['spec'] as JsonObject;
      const names = spec['names'] as JsonObject;
      for (const v of (spec['versions'] as JsonObject[] | undefined) ?? []) {
        if (v['served'] === false) continue;
        const crType = { group: String(spec['group']), version: String(v['name']), plural: String(names['plural']), singular: String(names['singular'] ?? String(names['kind']).toLowerCase()), kind: String(names['kind']), namespaced: spec['scope'] !== 'Cluster' };
        if (!types.some((x) => x.group === crType.group && x.version === crType.version && x.kind === crType.kind)) types.push(crType);
      }
      object['status'] = { conditions: [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'True' }], acceptedNames: names };
    }
    put(t, object);
    if (WORKLOADS.has(t.kind) && specChanged && t.group !== '') reconcile(t, object);
    if (t.kind === 'Pod' && specChanged) later(() => progressPod(object, 1));
    return [existing === undefined ? 201 : 200, object];
  };

  const discovery = (group: string, version: string): JsonObject => ({
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv({ group, version }),
    resources: types.filter((t) => t.group === group && t.version === version).map((t) => ({
      name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    })),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://stand-in');
    const query = Object.fromEntries(url.searchParams.entries());
    const text = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    let body: unknown;
    if (text !== '') {
      try {
        body = parseYaml(text);
      } catch {
        body = text;
      }
    }
    const authorized = req.headers.authorization === `Bearer ${token}`;
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query, contentType, body, authorized });
    const send = (code: number, object: JsonObject): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(object));
    };
    if (!authorized) return send(401, status(401, 'Unauthorized', 'Unauthorized'));
    const segments = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);

    if (url.pathname === '/version') {
      const [major, minor] = version.replace(/^v/, '').split('.');
      return send(200, { major: major ?? '1', minor: minor ?? '0', gitVersion: version, gitCommit: 'stand-in', gitTreeState: 'clean', buildDate: '2024-01-01T00:00:00Z', goVersion: 'go1.21', compiler: 'gc', platform: 'linux/amd64' });
    }
    if (url.pathname === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (url.pathname === '/apis') {
      const groups = [...new Set(types.filter((t) => t.group !== '').map((t) => t.group))];
      return send(200, {
        kind: 'APIGroupList', apiVersion: 'v1',
        groups: groups.map((name) => {
          const versions = [...new Set(types.filter((t) => t.group === name).map((t) => t.version))].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
          return { name, versions, preferredVersion: versions[0] ?? {} };
        }),
      });
    }
    let group: string;
    let ver: string;
    let rest: string[];
    if (segments[0] === 'api' && segments[1] === 'v1') [group, ver, rest] = ['', 'v1', segments.slice(2)];
    else if (segments[0] === 'apis' && segments.length >= 3) [group, ver, rest] = [segments[1] ?? '', segments[2] ?? '', segments.slice(3)];
    else return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (!types.some((t) => t.group === group && t.version === ver)) return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (rest.length === 0) {
      if (req.method !== 'GET') return send(405, status(405, 'MethodNotAllowed', 'method not allowed'));
      return send(200, discovery(group, ver));
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub] = rest;
    const t = types.find((x) => x.group === group && x.version === ver && x.plural === plural);
    if (t === undefined || sub !== undefined || (namespace !== undefined && !t.namespaced)) return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));

    if (name === undefined) {
      if (req.method !== 'GET') return send(405, status(405, 'MethodNotAllowed', 'only GET and PATCH are implemented by the stand-in'));
      if (query['watch'] === 'true' || query['watch'] === '1') {
        if (t.kind !== 'Pod') return send(405, status(405, 'MethodNotAllowed', 'the stand-in watches pods only'));
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        // Headers now, not with the first event: a client waits for them before it reads anything.
        res.flushHeaders();
        const from = query['resourceVersion'];
        const backlog = from === undefined || from === '' || from === '0'
          ? list(podType, namespace).map((object) => ({ type: 'ADDED', object }))
          : events.filter((e) => e.rv > Number(from) && (namespace === undefined || e.namespace === namespace));
        for (const e of backlog) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
        const watcher = { namespace, res };
        watchers.add(watcher);
        res.on('close', () => watchers.delete(watcher));
        return;
      }
      return send(200, { kind: `${t.kind}List`, apiVersion: gv(t), metadata: { resourceVersion: String(resourceVersion) }, items: list(t, namespace) });
    }
    if (req.method === 'GET') {
      const found = store.get(keyOf(t, namespace, name));
      return found === undefined ? send(404, status(404, 'NotFound', `${t.plural}${t.group === '' ? '' : `.${t.group}`} "${name}" not found`)) : send(200, found);
    }
    if (req.method === 'PATCH') {
      if (contentType !== 'application/apply-patch+yaml') {
        return send(415, status(415, 'UnsupportedMediaType', `the stand-in takes server-side apply only (application/apply-patch+yaml), not ${contentType ?? 'nothing'}`));
      }
      const [code, object] = apply(t, namespace, name, query, body);
      return send(code, object);
    }
    return send(405, status(405, 'MethodNotAllowed', `the stand-in does not implement ${req.method ?? '?'}`));
  };

  const server: Server = createServer({ cert, key }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(500, 'InternalError', `stand-in failure: ${err instanceof Error ? err.message : String(err)}`)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = join(options.dir, 'kubeconfig');
  await writeFile(kubeconfig, stringifyYaml({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'stand-in', cluster: { server: url, 'certificate-authority': ca.caFile } }],
    users: [{ name: 'stand-in-user', user: { token } }],
    contexts: [
      { name: 'stand-in', context: { cluster: 'stand-in', user: 'stand-in-user', ...(options.contextNamespace === undefined ? {} : { namespace: options.contextNamespace }) } },
      { name: 'other', context: { cluster: 'stand-in', user: 'stand-in-user', namespace: 'other' } },
    ],
    'current-context': 'stand-in',
  }), { mode: 0o600 });

  return {
    url, kubeconfig, ca, token, requests,
    applies: () => requests.filter((r) => r.method === 'PATCH' && r.contentType === 'application/apply-patch+yaml'),
    get: (apiVersion, kind, namespace, name) => {
      const t = typeOf(apiVersion, kind);
      return t === undefined ? undefined : store.get(keyOf(t, t.namespaced ? namespace : undefined, name));
    },
    pods: (namespace) => list(podType, namespace),
    setPodBehaviour: (b) => {
      behaviour = b;
    },
    addPod: (namespace, name, containers) => {
      const pod: JsonObject = { apiVersion: 'v1', kind: 'Pod', metadata: meta(name, namespace), spec: { containers }, status: { phase: 'Pending' } };
      put(podType, pod);
      later(() => progressPod(pod, 1));
    },
    stop: async () => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      for (const w of watchers) w.res.end();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
