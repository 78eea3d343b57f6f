/**
 * Watches the pods of some namespaces while a deploy waits, and reports a container that cannot pull
 * its image the moment the kubelet says so, rather than when the wait times out.
 *
 * One list then one watch per namespace, from the list's resourceVersion; when a watch ends (the server
 * closes watches after a while, client-node drops one silent for 30 s, a 410 says history is gone) it
 * lists again and watches from there.
 */
import { messageOf } from '../errors.ts';
import type { KubeClient, WatchPhase } from './client.ts';
import { isJsonObject } from './objects.ts';
import { isBackOffMessage, pullFailureKey, pullFailures, type PodView, type PullFailure } from './pod-status.ts';

export interface PodWatcherOptions {
  /** A container failing to pull: at its first failure, and again when the kubelet gives a new reason. */
  onFailure: (failure: PullFailure) => void;
  /** The watch of a namespace failed, once per namespace; it keeps trying. */
  onWarning?: (message: string) => void;
  /** Pause before listing again after a watch ends; default 1000 ms. */
  retryMs?: number;
}

type PodClient = Pick<KubeClient, 'listPods' | 'watchPods'>;

export class PodWatcher {
  readonly #client: PodClient;
  readonly #options: PodWatcherOptions;
  /** Failing now, by namespace/pod/container. */
  readonly #failing = new Map<string, PullFailure>();
  /** The last message reported for a container, so a flapping ErrImagePull/ImagePullBackOff is told once. */
  readonly #reported = new Map<string, string>();
  readonly #controllers = new Set<AbortController>();
  readonly #warned = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(client: PodClient, options: PodWatcherOptions) {
    this.#client = client;
    this.#options = options;
  }

  /** Starts watching; resolves once each namespace has been listed (or failed to be). */
  async start(namespaces: readonly string[]): Promise<void> {
    await Promise.all([...new Set(namespaces)].map((ns) => this.#follow(ns)));
  }

  /** The containers failing to pull right now. */
  failing(): PullFailure[] {
    return [...this.#failing.values()];
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const controller of this.#controllers) controller.abort();
    this.#controllers.clear();
  }

  #observe(pod: PodView, deleted: boolean): void {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const prefix = `${namespace}/${name}/`;
    const now = deleted ? [] : pullFailures(pod);
    const keys = new Set(now.map(pullFailureKey));
    for (const key of [...this.#failing.keys()]) if (key.startsWith(prefix) && !keys.has(key)) this.#failing.delete(key);
    for (const failure of now) {
      const key = pullFailureKey(failure);
      // ImagePullBackOff's own message only says it will retry: the last real reason is worth keeping.
      const previous = this.#failing.get(key);
      const keep = previous !== undefined && isBackOffMessage(failure.message) && !isBackOffMessage(previous.message);
      this.#failing.set(key, keep ? { ...failure, message: previous.message } : failure);
      const told = this.#reported.get(key);
      // The first sign, or a real reason after a bare "back-off": anything else would repeat itself every minute.
      if (told === undefined || (failure.message !== told && !isBackOffMessage(failure.message))) {
        this.#reported.set(key, failure.message);
        this.#options.onFailure(failure);
      }
    }
  }

  async #follow(namespace: string): Promise<void> {
    if (this.#stopped) return;
    let resourceVersion: string | undefined;
    try {
      const list = await this.#client.listPods(namespace);
      for (const key of [...this.#failing.keys()]) if (key.startsWith(`${namespace}/`)) this.#failing.delete(key);
      for (const pod of list.pods) this.#observe(pod as PodView, false);
      resourceVersion = list.resourceVersion;
    } catch (err: unknown) {
      this.#warn(namespace, `cannot list the pods of ${namespace}: ${messageOf(err)}`);
      this.#again(namespace);
      return;
    }
    if (this.#stopped) return;
    let controller: AbortController | undefined;
    const onEvent = (phase: WatchPhase, object: unknown): void => {
      if (this.#stopped || !isJsonObject(object)) return;
      if (phase === 'ERROR') {
        // Usually 410 Gone: the history asked for is compacted away. Listing again starts afresh.
        controller?.abort();
        return;
      }
      if (phase === 'BOOKMARK') return;
      this.#observe(object as PodView, phase === 'DELETED');
    };
    const onDone = (err: unknown): void => {
      if (controller !== undefined) this.#controllers.delete(controller);
      if (this.#stopped) return;
      if (err !== null && err !== undefined && !(err instanceof Error && err.name === 'AbortError')) {
        const timedOut = err instanceof Error && err.name === 'TimeoutError';
        if (!timedOut) this.#warn(namespace, `the watch of pods in ${namespace} failed: ${messageOf(err)}`);
      }
      this.#again(namespace);
    };
    try {
      controller = await this.#client.watchPods(namespace, resourceVersion, onEvent, onDone);
      if (this.#stopped) controller.abort();
      else this.#controllers.add(controller);
    } catch (err: unknown) {
      this.#warn(namespace, `cannot watch the pods of ${namespace}: ${messageOf(err)}`);
      this.#again(namespace);
    }
  }

  #again(namespace: string): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#follow(namespace);
    }, this.#options.retryMs ?? 1000);
    this.#timers.add(timer);
  }

  #warn(namespace: string, message: string): void {
    if (this.#warned.has(namespace)) return;
    this.#warned.add(namespace);
    this.#options.onWarning?.(message);
  }
}
