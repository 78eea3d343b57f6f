/**
 * The registry credentials given to `airgap deploy`, as the Secret the kubelet reads to pull images:
 * `kubernetes.io/dockerconfigjson`, the same `{"auths": {HOST: ...}}` that `docker login` writes.
 */
import type { KubeObject } from './objects.ts';

export const PULL_SECRET_NAME = 'airgap-registry';

export interface PullSecretSpec {
  /** Secret name, default `airgap-registry`. */
  name: string;
  /** The registry host[:port] as images name it. */
  registry: string;
  username: string;
  password: string;
}

export function pullSecretObject(spec: PullSecretSpec, namespace: string): KubeObject {
  const auth = Buffer.from(`${spec.username}:${spec.password}`).toString('base64');
  const config = { auths: { [spec.registry]: { username: spec.username, password: spec.password, auth } } };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: spec.name, namespace, labels: { 'app.kubernetes.io/managed-by': 'airgap' } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
  };
}
