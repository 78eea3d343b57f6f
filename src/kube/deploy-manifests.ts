/**
 * The Kubernetes part of `airgap deploy`: the release's manifests, already rewritten for the private
 * registry, planned with the air-gap settings, applied with server-side apply, then waited for while
 * the pods are watched for image pull failures.
 */
import { AirgapError, messageOf } from '../errors.ts';
import { applyPlan } from './apply.ts';
import { KubeClient } from './client.ts';
import type { KubeEventListener } from './events.ts';
import { describeNoKubeconfig, findKubeTarget, type KubeTargetOptions } from './kubeconfig.ts';
import { builtInScope, crdScopes, describeRef, parseManifestObjects, type ObjectRef, type Scope, type SourcedObject } from './objects.ts';
import { planApply, type ApplyPlan } from './plan.ts';
import { describePullFailure, pullFailureHint, type PullFailure } from './pod-status.ts';
import { PodWatcher } from './pod-watch.ts';
import type { PullSecretSpec } from './pull-secret.ts';
import { waitForRollouts, type PendingRollout } from './rollout.ts';
import type { Cloud } from './transforms.ts';

export interface KubeDeployOptions extends KubeTargetOptions {
  proxy?: string | undefined;
  noProxy?: string | undefined;
  internalServices?: Cloud | undefined;
  serviceType?: 'NodePort' | undefined;
}

export interface ManifestText {
  /** The manifest as the release names it. */
  file: string;
  /** Its text after the placeholder rewrite: what is applied. */
  text: string;
}

export interface KubeDeployInput {
  manifests: readonly ManifestText[];
  options: KubeDeployOptions;
  pullSecret?: PullSecretSpec | undefined;
  dryRun: boolean;
  /**
   * The deploy has a Juju part: with no kubeconfig anywhere and no Kubernetes flag given, the manifests
   * are skipped with a line saying so rather than failing the whole deploy.
   */
  optional: boolean;
  timeoutMs: number;
  pollMs?: number | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: KubeEventListener | undefined;
}

export interface KubeDeployResult {
  context: string | undefined;
  namespace: string | undefined;
  /** Applied, or with --dry-run what would be, in order. */
  objects: ObjectRef[];
  changes: string[];
  /** Why nothing was applied, when the manifests were skipped. */
  skipped: string | undefined;
}

function kubeFlagGiven(options: KubeDeployOptions): boolean {
  return [options.kubeconfig, options.context, options.namespace, options.proxy, options.noProxy, options.internalServices, options.serviceType].some((v) => v !== undefined);
}

async function scopesFor(objects: readonly SourcedObject[], client: KubeClient | undefined): Promise<(apiVersion: string, kind: string) => Scope> {
  const fromCrds = crdScopes(objects);
  const scopes = new Map<string, Scope>();
  for (const { object } of objects) {
    const key = `${object.apiVersion}/${object.kind}`;
    if (scopes.has(key)) continue;
    const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] ?? '' : '';
    let scope = builtInScope(object.apiVersion, object.kind) ?? fromCrds.get(`${group}/${object.kind}`);
    if (scope === undefined && client !== undefined) {
      scope = await client.scopeOf(object.apiVersion, object.kind);
      if (scope === undefined) {
        throw new AirgapError(`the cluster does not know kind ${object.kind} of ${object.apiVersion} (${describeRef({ apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name })})`, {
          hint: 'install its CustomResourceDefinition first, or add it to the manifests',
        });
      }
    }
    // A dry run asks nothing of the cluster: an unknown custom kind is taken as namespaced, as most are.
    scopes.set(key, scope ?? 'Namespaced');
  }
  return (apiVersion, kind) => scopes.get(`${apiVersion}/${kind}`) ?? builtInScope(apiVersion, kind) ?? 'Namespaced';
}

function timeoutText(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 100) / 10}s`;
}

function rolloutFailure(pending: readonly PendingRollout[], failing: readonly PullFailure[], timeoutMs: number): AirgapError {
  const parts: string[] = [];
  if (failing.length > 0) parts.push(`${failing.length} container(s) cannot pull their image: ${failing.map(describePullFailure).join('; ')}`);
  if (pending.length > 0) parts.push(`not rolled out after ${timeoutText(timeoutMs)}: ${pending.map((p) => `${describeRef(p.ref)} (${p.message})`).join('; ')}`);
  const first = failing[0];
  const hint = (first === undefined ? undefined : pullFailureHint(first)) ?? 'see `kubectl describe` of the workloads and their pods; re-run with a longer --timeout if it is only slow';
  return new AirgapError(parts.join('; '), { hint });
}

async function manifestObjects(input: Pick<KubeDeployInput, 'manifests' | 'signal'>): Promise<SourcedObject[]> {
  const sources: SourcedObject[] = [];
  for (const m of input.manifests) sources.push(...(await parseManifestObjects(m.file, m.text, input.signal)));
  return sources;
}

/**
 * What can be known wrong without asking the cluster — an object without a name, one defined twice, one in
 * another namespace than -n, a --context that does not exist — found before anything is changed, Juju included.
 */
export async function preflightManifests(input: Pick<KubeDeployInput, 'manifests' | 'options' | 'pullSecret' | 'signal'>): Promise<void> {
  const sources = await manifestObjects(input);
  const target = await findKubeTarget(input.options);
  const crds = crdScopes(sources);
  planApply(sources, {
    namespace: target?.namespace ?? input.options.namespace ?? 'default',
    namespaceExplicit: input.options.namespace !== undefined,
    scopeOf: (apiVersion, kind) => builtInScope(apiVersion, kind) ?? crds.get(`${apiVersion.includes('/') ? apiVersion.split('/')[0] ?? '' : ''}/${kind}`) ?? 'Namespaced',
    pullSecret: input.pullSecret,
    proxy: { proxy: input.options.proxy, noProxy: input.options.noProxy },
    internalServices: input.options.internalServices,
    serviceType: input.options.serviceType,
  });
}

export async function deployManifests(input: KubeDeployInput): Promise<KubeDeployResult> {
  const emit: KubeEventListener = input.onEvent ?? (() => {});
  const sources = await manifestObjects(input);
  const files = input.manifests.map((m) => m.file);

  // A context or file asked for and not found fails a dry run too: the real run would go elsewhere.
  const target = await findKubeTarget(input.options);
  if (target === undefined && !input.dryRun) {
    if (input.optional && !kubeFlagGiven(input.options)) {
      const reason = describeNoKubeconfig(input.options.env);
      emit({ type: 'kube-skipped', reason, files });
      return { context: undefined, namespace: undefined, objects: [], changes: [], skipped: reason };
    }
    throw new AirgapError(`cannot apply ${files.join(', ')}: ${describeNoKubeconfig(input.options.env)}`, {
      hint: 'pass --kubeconfig FILE or set KUBECONFIG (MicroK8s: `microk8s config > ~/.kube/config`)',
    });
  }
  const namespace = target?.namespace ?? input.options.namespace ?? 'default';
  emit({ type: 'kube-target', context: target?.context, server: target?.server, namespace, source: target?.source });

  const client = target === undefined || input.dryRun ? undefined : await KubeClient.connect(target);
  const plan: ApplyPlan = planApply(sources, {
    namespace,
    namespaceExplicit: input.options.namespace !== undefined,
    scopeOf: await scopesFor(sources, client),
    pullSecret: input.pullSecret,
    proxy: { proxy: input.options.proxy, noProxy: input.options.noProxy },
    internalServices: input.options.internalServices,
    serviceType: input.options.serviceType,
  });
  if (plan.changes.length > 0) emit({ type: 'kube-changes', changes: plan.changes });
  const result = { context: target?.context, namespace, changes: plan.changes, skipped: undefined };

  if (client === undefined) {
    for (const o of plan.objects) emit({ type: 'kube-apply', ref: o.ref, dryRun: true });
    return { ...result, objects: plan.objects.map((o) => o.ref) };
  }

  const applied = await applyPlan(client, plan, { signal: input.signal, onApplied: (ref) => emit({ type: 'kube-apply', ref, dryRun: false }) });
  if (plan.rollouts.length === 0) return { ...result, objects: applied };

  const namespaces = [...new Set(plan.rollouts.map((r) => r.namespace ?? namespace))];
  const watcher = new PodWatcher(client, {
    onFailure: (failure) => emit({ type: 'image-pull-failed', failure, hint: pullFailureHint(failure) }),
    onWarning: (message) => emit({ type: 'warning', message }),
  });
  try {
    await watcher.start(namespaces);
    const pending = await waitForRollouts(client, plan.rollouts, {
      timeoutMs: input.timeoutMs,
      pollMs: input.pollMs,
      signal: input.signal,
      onStatus: (ref, status) => emit({ type: 'kube-rollout', ref, message: status.message, done: status.done }),
    });
    if (pending.length > 0) throw rolloutFailure(pending, watcher.failing(), input.timeoutMs);
  } finally {
    watcher.stop();
  }
  return { ...result, objects: applied };
}

export interface ModelPodWatch {
  /** Stops watching; returns the containers failing to pull at that moment. */
  stop(): PullFailure[];
}

/**
 * While Juju settles a model, watch its pods (a Juju Kubernetes model is the namespace of its name)
 * and report image pull failures at once. Nothing happens without a kubeconfig: Juju needs none here.
 */
export async function watchModelPods(options: KubeTargetOptions, model: string, onEvent: KubeEventListener): Promise<ModelPodWatch | undefined> {
  let client: KubeClient;
  try {
    const target = await findKubeTarget({ ...options, namespace: undefined });
    if (target === undefined) return undefined;
    client = await KubeClient.connect(target);
  } catch (err: unknown) {
    onEvent({ type: 'warning', message: `the pods of model ${model} are not watched: ${messageOf(err)}` });
    return undefined;
  }
  const watcher = new PodWatcher(client, {
    onFailure: (failure) => onEvent({ type: 'image-pull-failed', failure, hint: pullFailureHint(failure) }),
    onWarning: (message) => onEvent({ type: 'warning', message }),
  });
  // Not awaited: the Juju wait must not stand still while an unreachable cluster times out.
  void watcher.start([model]);
  return {
    stop: () => {
      const failing = watcher.failing();
      watcher.stop();
      return failing;
    },
  };
}
