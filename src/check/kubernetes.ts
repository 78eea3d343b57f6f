/**
 * `airgap check`, Kubernetes and DNS parts: the kubeconfig and its context, a server new enough for
 * server-side apply as airgap uses it, the namespace, Ready nodes, GPUs when asked for, and where
 * CoreDNS forwards outside names.
 */
import { readFile } from 'node:fs/promises';
import type { V1Node } from '@kubernetes/client-node';
import { AirgapError, messageOf } from '../errors.ts';
import { KubeClient } from '../kube/client.ts';
import { describeNoKubeconfig, findKubeTarget, type KubeTarget, type KubeTargetOptions } from '../kube/kubeconfig.ts';
import { classifyResolver, resolvConfNameservers, rootForwards } from './coredns.ts';
import { result, type CheckResult } from './types.ts';

export interface KubeCheckOptions extends KubeTargetOptions {
  /** --gpus: nvidia.com/gpu capacity and GPU node labels are required. */
  gpus?: boolean;
  /** This machine's resolv.conf, for the nameserver to suggest; default /etc/resolv.conf. */
  resolvConf?: string;
}

/** Server-side apply is GA from 1.22 and usable with field managers since 1.18; 1.20 is airgap's floor. */
export const MIN_MINOR = 20;
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** Labels GPU feature discovery, NFD, the clouds and SkyPilot put on GPU nodes. */
export const GPU_LABELS = ['nvidia.com/gpu.present', 'nvidia.com/gpu.product', 'nvidia.com/gpu.count', 'feature.node.kubernetes.io/pci-10de.present', 'cloud.google.com/gke-accelerator', 'skypilot.co/accelerator'];
const PUBLIC_EXAMPLES = '8.8.8.8, 1.1.1.1';

/** The error's own hint when it has one: it knows better than a generic line. */
function fixOf(err: unknown, fallback: string): string {
  return err instanceof AirgapError && err.hint !== undefined ? err.hint : fallback;
}

function ready(node: V1Node): { ready: boolean; why: string } {
  const condition = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (condition === undefined) return { ready: false, why: 'no Ready condition' };
  return { ready: condition.status === 'True', why: [condition.reason, condition.message].filter((s) => s !== undefined && s !== '').join(': ') || condition.status };
}

function gpuCount(node: V1Node): number {
  const value = node.status?.allocatable?.[GPU_RESOURCE];
  const n = value === undefined ? 0 : Number(value);
  return Number.isFinite(n) ? n : 0;
}

function list(items: readonly string[], max = 5): string {
  return items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');
}

export async function checkKubernetes(options: KubeCheckOptions): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const add = (section: 'kubernetes' | 'dns', status: CheckResult['status'], what: string, detail: string, fix?: string): void => {
    out.push(result(section, status, what, detail, fix));
  };
  const explicit = options.kubeconfig !== undefined || options.context !== undefined || options.namespace !== undefined || options.gpus === true;

  let target: KubeTarget | undefined;
  try {
    target = await findKubeTarget(options);
  } catch (err: unknown) {
    add('kubernetes', 'fail', 'kubeconfig', messageOf(err), fixOf(err, 'fix the kubeconfig, or pass --kubeconfig and --context'));
    return out;
  }
  if (target === undefined) {
    const why = describeNoKubeconfig(options.env);
    if (explicit) add('kubernetes', 'fail', 'kubeconfig', why, 'pass --kubeconfig FILE or set KUBECONFIG (MicroK8s: microk8s config > ~/.kube/config)');
    else add('kubernetes', 'skip', 'kubeconfig', `${why}; pass --kubeconfig to check a cluster`);
    add('dns', 'skip', 'CoreDNS forward', 'no cluster to read it from');
    return out;
  }
  add('kubernetes', 'ok', 'kubeconfig', `context ${target.context} (${target.server}) from ${target.source}`);
  const client = await KubeClient.connect(target);

  try {
    const version = await client.version();
    const major = Number.parseInt(version.major, 10);
    const minor = Number.parseInt(version.minor, 10);
    if (major > 1 || (major === 1 && minor >= MIN_MINOR)) add('kubernetes', 'ok', 'server version', `${version.gitVersion} (1.${MIN_MINOR} or later)`);
    else add('kubernetes', 'fail', 'server version', `${version.gitVersion}: airgap needs Kubernetes 1.${MIN_MINOR} or later (server-side apply)`, 'upgrade the cluster');
  } catch (err: unknown) {
    add('kubernetes', 'fail', 'server version', messageOf(err), fixOf(err, 'check that the API server of the context is up and reachable, with `kubectl version`'));
    add('dns', 'skip', 'CoreDNS forward', 'the API server did not answer');
    return out;
  }

  try {
    if (await client.namespaceExists(target.namespace)) add('kubernetes', 'ok', 'namespace', `${target.namespace} exists (${target.namespaceFrom === 'flag' ? '-n' : target.namespaceFrom === 'context' ? 'from the context' : 'the default'})`);
    else add('kubernetes', 'warn', 'namespace', `${target.namespace} does not exist`, `create it (kubectl create namespace ${target.namespace}), or let the release's manifests define it`);
  } catch (err: unknown) {
    add('kubernetes', 'warn', 'namespace', messageOf(err), fixOf(err, 'check with `kubectl get namespace`'));
  }

  let nodes: V1Node[] = [];
  try {
    nodes = await client.listNodes();
    const states = nodes.map((n) => ({ name: n.metadata?.name ?? '?', ...ready(n) }));
    const notReady = states.filter((s) => !s.ready);
    if (nodes.length === 0) add('kubernetes', 'fail', 'nodes Ready', 'the cluster has no nodes', 'join a node to the cluster');
    else if (notReady.length === 0) add('kubernetes', 'ok', 'nodes Ready', `${nodes.length} of ${nodes.length} nodes Ready`);
    else {
      const detail = `${nodes.length - notReady.length} of ${nodes.length} nodes Ready; not Ready: ${list(notReady.map((s) => `${s.name} (${s.why})`))}`;
      add('kubernetes', notReady.length === nodes.length ? 'fail' : 'warn', 'nodes Ready', detail, 'see `kubectl describe node NAME`: a node that is not Ready runs no new pod');
    }
  } catch (err: unknown) {
    add('kubernetes', 'warn', 'nodes Ready', messageOf(err), fixOf(err, 'the user may lack permission to list nodes: `kubectl get nodes` tells'));
  }

  if (options.gpus === true) {
    const withGpus = nodes.filter((n) => ready(n).ready && gpuCount(n) > 0);
    const total = withGpus.reduce((sum, n) => sum + gpuCount(n), 0);
    if (total > 0) add('kubernetes', 'ok', 'GPUs', `${total} ${GPU_RESOURCE} allocatable on ${list(withGpus.map((n) => `${n.metadata?.name ?? '?'} (${gpuCount(n)})`))}`);
    else add('kubernetes', 'fail', 'GPUs', `no Ready node offers ${GPU_RESOURCE}`, 'install the NVIDIA GPU operator or device plugin (its images must be in the private registry too)');
    const labelled = nodes.flatMap((n) => {
      const labels = n.metadata?.labels ?? {};
      const found = GPU_LABELS.filter((l) => labels[l] !== undefined);
      return found.length === 0 ? [] : [`${n.metadata?.name ?? '?'} (${found.map((l) => `${l}=${labels[l] ?? ''}`).join(', ')})`];
    });
    if (labelled.length > 0) add('kubernetes', 'ok', 'GPU node labels', list(labelled));
    else add('kubernetes', 'warn', 'GPU node labels', `no node carries a GPU label (${GPU_LABELS.slice(0, 2).join(', ')}, ...)`, 'run GPU feature discovery (part of the GPU operator), or label the GPU nodes: kubectl label node NODE nvidia.com/gpu.present=true');
  }

  await checkCoreDns(client, options, add);
  return out;
}

async function checkCoreDns(client: KubeClient, options: KubeCheckOptions, add: (section: 'dns', status: CheckResult['status'], what: string, detail: string, fix?: string) => void): Promise<void> {
  let corefile: string | undefined;
  try {
    const configMap = await client.readConfigMap('kube-system', 'coredns');
    if (configMap === undefined) {
      add('dns', 'skip', 'CoreDNS forward', 'no ConfigMap kube-system/coredns: the cluster DNS is not CoreDNS, or is configured elsewhere');
      return;
    }
    corefile = configMap.data?.['Corefile'];
  } catch (err: unknown) {
    add('dns', 'warn', 'CoreDNS forward', messageOf(err), fixOf(err, 'the user may lack permission to read ConfigMaps in kube-system'));
    return;
  }
  const targets = rootForwards(corefile ?? '');
  const host = resolvConfNameservers(await readFile(options.resolvConf ?? '/etc/resolv.conf', 'utf8').catch(() => ''))[0];
  const advice = `MicroK8s: microk8s disable dns && microk8s enable dns:${host ?? '<your nameserver>'}${host === undefined ? '' : ' (this machine\'s nameserver)'}; elsewhere: kubectl -n kube-system edit configmap coredns and set forward . <your nameserver>`;
  if (targets.length === 0) {
    add('dns', 'ok', 'CoreDNS forward', 'CoreDNS forwards no outside names (no forward . in its Corefile)');
    return;
  }
  const kinds = targets.map((t) => ({ target: t, kind: classifyResolver(t) }));
  const resolvConf = kinds.filter((k) => k.kind === 'resolv.conf');
  const outside = kinds.filter((k) => k.kind === 'public' || k.kind === 'name');
  if (outside.length > 0) {
    add('dns', 'warn', 'CoreDNS forward', `CoreDNS forwards outside names to ${outside.map((k) => k.target).join(', ')}, a public resolver an air gap cannot reach (like ${PUBLIC_EXAMPLES}): lookups of names outside the cluster will time out`, advice);
  } else if (resolvConf.length > 0) {
    add('dns', 'warn', 'CoreDNS forward', `CoreDNS forwards outside names to the nodes' ${resolvConf.map((k) => k.target).join(', ')}: fine only if every node's resolv.conf names a resolver inside the air gap`, advice);
  } else {
    add('dns', 'ok', 'CoreDNS forward', `CoreDNS forwards outside names to ${targets.join(', ')} (private addresses)`);
  }
}
