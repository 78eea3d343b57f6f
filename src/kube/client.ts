/**
 * The few Kubernetes API calls airgap makes, through @kubernetes/client-node: server-side apply,
 * discovery of a kind's scope, reads of workloads, namespaces, nodes and ConfigMaps, and the pod list
 * and watch. Every failure becomes a KubeError that says what was being done and what to do.
 */
import type { AppsV1Api, CoreV1Api, KubernetesObjectApi, V1ConfigMap, V1Node, V1Pod, VersionApi, VersionInfo } from '@kubernetes/client-node';
import { describeRef, isJsonObject, refOf, type JsonObject, type KubeObject, type ObjectRef, type Scope } from './objects.ts';
import { httpStatusOf, kubeError } from './errors.ts';
import type { KubeTarget } from './kubeconfig.ts';
import { clientNode } from './lib.ts';

/** Field manager of every apply: `kubectl get -o yaml --show-managed-fields` shows what airgap owns. */
export const FIELD_MANAGER = 'airgap';

export type WatchPhase = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface PodList {
  pods: V1Pod[];
  resourceVersion: string | undefined;
}

type WatchFn = (path: string, query: Record<string, string | boolean | undefined>, onEvent: (phase: string, object: unknown) => void, onDone: (err: unknown) => void) => Promise<AbortController>;

interface ScopedObjectApi extends KubernetesObjectApi {
  scopeOf(apiVersion: string, kind: string): Promise<Scope | undefined>;
}

const asWritten = new Set<string>();

/**
 * KubernetesObjectApi serializes a built-in kind through its generated model, which silently drops any
 * field the model lacks (a field newer than the client, or a typo). The manifest must reach the server
 * as written, so the server judges it; a model registered for the kind makes the serializer pass it on.
 */
async function sendAsWritten(object: KubeObject): Promise<void> {
  const key = `${object.apiVersion}/${object.kind}`;
  if (asWritten.has(key)) return;
  asWritten.add(key);
  const { ObjectSerializer } = await import('@kubernetes/client-node/dist/serializer.js');
  const slash = object.apiVersion.indexOf('/');
  const gvk = { group: slash < 0 ? '' : object.apiVersion.slice(0, slash), version: object.apiVersion.slice(slash + 1), kind: object.kind };
  try {
    ObjectSerializer.registerModel(gvk, { serialize: (data: unknown) => data, deserialize: (data: unknown) => data });
  } catch {
    // Registered already (by another client in this process): it passes objects on all the same.
  }
}

export class KubeClient {
  readonly target: KubeTarget;
  readonly #objects: ScopedObjectApi;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #version: VersionApi;
  readonly #watchPath: WatchFn;

  private constructor(target: KubeTarget, parts: { objects: ScopedObjectApi; core: CoreV1Api; apps: AppsV1Api; version: VersionApi; watch: WatchFn }) {
    this.target = target;
    this.#objects = parts.objects;
    this.#core = parts.core;
    this.#apps = parts.apps;
    this.#version = parts.version;
    this.#watchPath = parts.watch;
  }

  static async connect(target: KubeTarget): Promise<KubeClient> {
    const k8s = await clientNode();
    // KubernetesObjectApi knows each kind's scope from discovery but keeps it to itself.
    class ObjectApi extends k8s.KubernetesObjectApi {
      async scopeOf(apiVersion: string, kind: string): Promise<Scope | undefined> {
        try {
          const resource = await this.resource(apiVersion, kind);
          return resource === undefined ? undefined : resource.namespaced ? 'Namespaced' : 'Cluster';
        } catch (err: unknown) {
          // A group/version the server does not serve: its kind is unknown, like a kind it does not list.
          if (httpStatusOf(err) === 404 || /\b404\b/.test(err instanceof Error ? err.message : '')) return undefined;
          throw err;
        }
      }
    }
    const kc = target.config;
    const watch = new k8s.Watch(kc);
    return new KubeClient(target, {
      objects: kc.makeApiClient(ObjectApi),
      core: kc.makeApiClient(k8s.CoreV1Api),
      apps: kc.makeApiClient(k8s.AppsV1Api),
      version: kc.makeApiClient(k8s.VersionApi),
      watch: (path, query, onEvent, onDone) => watch.watch(path, query, onEvent, onDone),
    });
  }

  #fail(err: unknown, what: string): never {
    throw kubeError(err, what, this.target.server);
  }

  /**
   * Server-side apply as field manager `airgap`, with conflicts forced: the release is the declared
   * state, and a re-run after someone edited a field by hand must converge, not stop half-way.
   */
  async apply(object: KubeObject): Promise<JsonObject> {
    const { PatchStrategy } = await clientNode();
    await sendAsWritten(object);
    try {
      const applied: unknown = await this.#objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      return isJsonObject(applied) ? applied : {};
    } catch (err: unknown) {
      this.#fail(err, `apply ${describeRef(refOf(object))}`);
    }
  }

  /** Namespaced or cluster-wide, from discovery; undefined when the server does not know the kind. */
  async scopeOf(apiVersion: string, kind: string): Promise<Scope | undefined> {
    try {
      return await this.#objects.scopeOf(apiVersion, kind);
    } catch (err: unknown) {
      this.#fail(err, `discover ${kind} in ${apiVersion}`);
    }
  }

  /** Any object by reference, as JSON; undefined when it does not exist. */
  async read(ref: ObjectRef): Promise<JsonObject | undefined> {
    try {
      const found: unknown = await this.#objects.read({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }) } });
      return isJsonObject(found) ? found : undefined;
    } catch (err: unknown) {
      if (httpStatusOf(err) === 404) return undefined;
      this.#fail(err, `read ${describeRef(ref)}`);
    }
  }

  /** A Deployment, StatefulSet or DaemonSet, typed, for its rollout status. */
  async readWorkload(ref: ObjectRef): Promise<unknown> {
    const request = { name: ref.name, namespace: ref.namespace ?? 'default' };
    try {
      switch (ref.kind) {
        case 'Deployment':
          return await this.#apps.readNamespacedDeployment(request);
        case 'StatefulSet':
          return await this.#apps.readNamespacedStatefulSet(request);
        case 'DaemonSet':
          return await this.#apps.readNamespacedDaemonSet(request);
        default:
          return await this.read(ref);
      }
    } catch (err: unknown) {
      if (httpStatusOf(err) === 404) return undefined;
      this.#fail(err, `read ${describeRef(ref)}`);
    }
  }

  async listPods(namespace: string): Promise<PodList> {
    try {
      const list = await this.#core.listNamespacedPod({ namespace });
      return { pods: list.items, resourceVersion: list.metadata?.resourceVersion };
    } catch (err: unknown) {
      this.#fail(err, `list pods in ${namespace}`);
    }
  }

  /**
   * Watch the pods of a namespace from `resourceVersion`. `onDone` is called once when the watch ends,
   * with the error if it failed; the returned controller stops it.
   */
  watchPods(namespace: string, resourceVersion: string | undefined, onEvent: (phase: WatchPhase, object: unknown) => void, onDone: (err: unknown) => void): Promise<AbortController> {
    return this.#watchPath(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, { resourceVersion, allowWatchBookmarks: true }, (phase, object) => onEvent(phase as WatchPhase, object), onDone);
  }

  async version(): Promise<VersionInfo> {
    try {
      return await this.#version.getCode();
    } catch (err: unknown) {
      this.#fail(err, 'read the server version');
    }
  }

  async listNodes(): Promise<V1Node[]> {
    try {
      return (await this.#core.listNode()).items;
    } catch (err: unknown) {
      this.#fail(err, 'list nodes');
    }
  }

  async namespaceExists(name: string): Promise<boolean> {
    try {
      await this.#core.readNamespace({ name });
      return true;
    } catch (err: unknown) {
      if (httpStatusOf(err) === 404) return false;
      this.#fail(err, `read namespace ${name}`);
    }
  }

  async readConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    try {
      return await this.#core.readNamespacedConfigMap({ namespace, name });
    } catch (err: unknown) {
      if (httpStatusOf(err) === 404) return undefined;
      this.#fail(err, `read ConfigMap ${namespace}/${name}`);
    }
  }
}
