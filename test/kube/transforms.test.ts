import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/objects.ts';
import { DEFAULT_NO_PROXY, INTERNAL_LB_ANNOTATIONS, addImagePullSecret, markInternal, mergeEnv, podSpecOf, proxyVariables, toNodePort } from '../../src/kube/transforms.ts';

const container = (name: string, env?: object[]): object => ({ name, image: `reg:5000/${name}:1`, ...(env === undefined ? {} : { env }) });
const podSpec = (): object => ({ initContainers: [container('init')], containers: [container('app', [{ name: 'HTTP_PROXY', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }, { name: 'KEEP', value: 'me' }]), container('side')] });

function workload(kind: string, apiVersion = 'apps/v1'): KubeObject {
  const spec = podSpec();
  const body: Record<string, object> = {
    Pod: { spec },
    Deployment: { spec: { template: { spec } } },
    StatefulSet: { spec: { template: { spec } } },
    DaemonSet: { spec: { template: { spec } } },
    Job: { spec: { template: { spec } } },
    CronJob: { spec: { jobTemplate: { spec: { template: { spec } } } } },
  };
  return { apiVersion, kind, metadata: { name: kind.toLowerCase() }, ...body[kind] } as KubeObject;
}

const KINDS: [string, string][] = [['Pod', 'v1'], ['Deployment', 'apps/v1'], ['StatefulSet', 'apps/v1'], ['DaemonSet', 'apps/v1'], ['Job', 'batch/v1'], ['CronJob', 'batch/v1']];

describe('proxy variables', () => {
  it('sets all six names from --proxy, with a cluster-internal NO_PROXY by default', () => {
    expect(proxyVariables({ proxy: 'http://proxy:3128' })).toEqual([
      { name: 'HTTP_PROXY', value: 'http://proxy:3128' }, { name: 'http_proxy', value: 'http://proxy:3128' },
      { name: 'HTTPS_PROXY', value: 'http://proxy:3128' }, { name: 'https_proxy', value: 'http://proxy:3128' },
      { name: 'NO_PROXY', value: DEFAULT_NO_PROXY }, { name: 'no_proxy', value: DEFAULT_NO_PROXY },
    ]);
    expect(proxyVariables({ proxy: 'http://p:1', noProxy: '10.0.0.0/8,.corp' }).slice(4)).toEqual([{ name: 'NO_PROXY', value: '10.0.0.0/8,.corp' }, { name: 'no_proxy', value: '10.0.0.0/8,.corp' }]);
    expect(proxyVariables({ noProxy: '.corp' })).toEqual([{ name: 'NO_PROXY', value: '.corp' }, { name: 'no_proxy', value: '.corp' }]);
    expect(proxyVariables({})).toEqual([]);
  });

  it.each(KINDS)('merges them by name into every container and init container of a %s', (kind, apiVersion) => {
    const object = workload(kind, apiVersion);
    const touched = mergeEnv(object, proxyVariables({ proxy: 'http://proxy:3128', noProxy: '.svc' }));
    expect(touched).toBe(3);
    const spec = podSpecOf(object) as { initContainers: { env: { name: string; value?: string }[] }[]; containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[] };
    for (const c of [...spec.initContainers, ...spec.containers]) {
      expect(c.env.map((e) => e.name)).toEqual(expect.arrayContaining(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']));
    }
    const app = spec.containers[0];
    // Replaced in place (the flag wins, valueFrom goes), the others kept in their order.
    expect(app?.env).toEqual([
      { name: 'HTTP_PROXY', value: 'http://proxy:3128' }, { name: 'KEEP', value: 'me' },
      { name: 'http_proxy', value: 'http://proxy:3128' }, { name: 'HTTPS_PROXY', value: 'http://proxy:3128' }, { name: 'https_proxy', value: 'http://proxy:3128' },
      { name: 'NO_PROXY', value: '.svc' }, { name: 'no_proxy', value: '.svc' },
    ]);
  });

  it('leaves objects that are not workloads alone, and a custom kind named like one', () => {
    expect(mergeEnv({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: {} }, proxyVariables({ proxy: 'http://p:1' }))).toBe(0);
    expect(mergeEnv(workload('Deployment', 'example.com/v1'), proxyVariables({ proxy: 'http://p:1' }))).toBe(0);
  });
});

describe('imagePullSecrets', () => {
  it.each(KINDS)('adds the pull secret to the pod spec of a %s, once', (kind, apiVersion) => {
    const object = workload(kind, apiVersion);
    expect(addImagePullSecret(object, 'airgap-registry')).toBe(true);
    expect(addImagePullSecret(object, 'airgap-registry')).toBe(false);
    expect(podSpecOf(object)?.['imagePullSecrets']).toEqual([{ name: 'airgap-registry' }]);
  });

  it('keeps the secrets already listed', () => {
    const object = workload('Deployment');
    (podSpecOf(object) as Record<string, unknown>)['imagePullSecrets'] = [{ name: 'theirs' }];
    addImagePullSecret(object, 'airgap-registry');
    expect(podSpecOf(object)?.['imagePullSecrets']).toEqual([{ name: 'theirs' }, { name: 'airgap-registry' }]);
  });
});

function service(type: string, extra: object = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'gw', annotations: { keep: 'me' } }, spec: { type, ports: [{ port: 80 }], ...extra } } as KubeObject;
}

describe('Services', () => {
  it.each([
    ['aws', 'service.beta.kubernetes.io/aws-load-balancer-internal', 'true'],
    ['gcp', 'networking.gke.io/load-balancer-type', 'Internal'],
    ['azure', 'service.beta.kubernetes.io/azure-load-balancer-internal', 'true'],
  ] as const)('--internal-services %s annotates LoadBalancer Services', (cloud, key, value) => {
    expect(INTERNAL_LB_ANNOTATIONS[cloud]).toEqual({ key, value });
    const lb = service('LoadBalancer');
    expect(markInternal(lb, cloud)).toBe(true);
    expect(lb.metadata['annotations']).toEqual({ keep: 'me', [key]: value });
    const cluster = service('ClusterIP');
    expect(markInternal(cluster, cloud)).toBe(false);
    expect(cluster.metadata['annotations']).toEqual({ keep: 'me' });
  });

  it('--service-type NodePort turns LoadBalancers into NodePorts, dropping what only they take', () => {
    const lb = service('LoadBalancer', { loadBalancerIP: '10.0.0.9', loadBalancerSourceRanges: ['10.0.0.0/8'], externalTrafficPolicy: 'Local' });
    expect(toNodePort(lb)).toEqual(['loadBalancerIP', 'loadBalancerSourceRanges']);
    expect(lb['spec']).toEqual({ type: 'NodePort', ports: [{ port: 80 }], externalTrafficPolicy: 'Local' });
    expect(toNodePort(service('ClusterIP'))).toBeUndefined();
  });
});
