/**
 * The failure that matters in an air gap: a container whose image cannot be pulled. Read from a pod's
 * container statuses, with the kubelet's message, and what that message usually means.
 */

/** Waiting reasons the kubelet gives when it cannot get an image. */
export const PULL_FAILURE_REASONS: ReadonlySet<string> = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable']);

/** The fields read; client-node's V1Pod fits, and so does the JSON of a watch event. */
export interface PodView {
  metadata?: { name?: string; namespace?: string };
  spec?: { containers?: { name: string; image?: string }[]; initContainers?: { name: string; image?: string }[] };
  status?: {
    containerStatuses?: ContainerStatusView[];
    initContainerStatuses?: ContainerStatusView[];
  };
}

interface ContainerStatusView {
  name: string;
  image?: string;
  state?: { waiting?: { reason?: string; message?: string } };
}

export interface PullFailure {
  namespace: string;
  pod: string;
  container: string;
  image: string;
  /** ErrImagePull, ImagePullBackOff, ... */
  reason: string;
  /** The kubelet's message: for ErrImagePull, the registry's or the runtime's own error. */
  message: string;
}

export function pullFailureKey(f: Pick<PullFailure, 'namespace' | 'pod' | 'container'>): string {
  return `${f.namespace}/${f.pod}/${f.container}`;
}

export function pullFailures(pod: PodView): PullFailure[] {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const specImages = new Map<string, string>();
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) if (c.image !== undefined) specImages.set(c.name, c.image);
  const failures: PullFailure[] = [];
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = status.state?.waiting;
    if (waiting?.reason === undefined || !PULL_FAILURE_REASONS.has(waiting.reason)) continue;
    failures.push({
      namespace,
      pod: name,
      container: status.name,
      // While waiting, the status names the image as the spec wrote it; the spec is the fallback.
      image: status.image || specImages.get(status.name) || '',
      reason: waiting.reason,
      message: waiting.message ?? '',
    });
  }
  return failures;
}

/** The kubelet's "Back-off pulling image" says only that it will try again; the ErrImagePull message says why. */
export function isBackOffMessage(message: string): boolean {
  return message === '' || /^Back-off pulling image/i.test(message);
}

/** What a pull error usually means on an air-gapped cluster, and what to do. */
export function pullFailureHint(failure: PullFailure): string | undefined {
  const m = failure.message;
  const host = failure.image.split('/')[0] ?? '';
  if (/x509|certificate|tls: /i.test(m)) {
    return `the nodes do not trust the registry's certificate: put its CA in /etc/containerd/certs.d/${host}/ca.crt on every node (MicroK8s: name it as ca in /var/snap/microk8s/current/args/certs.d/${host}/hosts.toml)`;
  }
  if (/http: server gave HTTP response to HTTPS client/i.test(m)) return `the registry speaks plain HTTP: declare ${host} as an insecure (http) registry in the nodes' containerd configuration`;
  if (/unauthorized|authentication required|401|no basic auth credentials|denied/i.test(m)) return 'the registry refused the nodes: pass --username and --password-stdin to airgap deploy so it creates a pull secret';
  if (/not found|manifest unknown|404/i.test(m)) return 'the image is not in the registry: run airgap load with the archive of this release';
  if (/no such host|i\/o timeout|connection refused|dial tcp|network is unreachable|proxyconnect/i.test(m)) return `the nodes cannot reach ${host}: check DNS and routes from the nodes, and that the container runtime's proxy settings leave ${host} out (NO_PROXY)`;
  if (failure.reason === 'InvalidImageName') return 'the image reference in the manifest is malformed';
  return undefined;
}

export function describePullFailure(f: PullFailure): string {
  return `pod ${f.namespace}/${f.pod} container ${f.container} cannot pull ${f.image || '(no image)'}: ${f.reason}${f.message === '' ? '' : `: ${f.message}`}`;
}
