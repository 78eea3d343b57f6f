import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { renderSkyPilot, SKYPILOT_CPU_IMAGE, SKYPILOT_GPU_IMAGE } from '../../src/config/skypilot.ts';
import { loadRelease, planImages } from '../../src/release/index.ts';

/**
 * SkyPilot's documented schema of the kubernetes: section of ~/.sky/config.yaml, field by field, as
 * skypilot-org/skypilot sky/utils/schemas.py get_config_schema() ('kubernetes': additionalProperties False)
 * and sky/utils/kubernetes_enums.py (KubernetesPortMode: ingress, loadbalancer, podip;
 * KubernetesNetworkingMode: nodeport, portforward) define it; docs/source/reference/config.rst explains it.
 */
const KUBERNETES_SCHEMA: Readonly<Record<string, (value: unknown) => boolean>> = {
  allowed_contexts: (v) => Array.isArray(v) && v.every((c) => typeof c === 'string'),
  networking: (v) => typeof v === 'string' && ['nodeport', 'portforward'].includes(v.toLowerCase()),
  ports: (v) => typeof v === 'string' && ['ingress', 'loadbalancer', 'podip'].includes(v.toLowerCase()),
  // 'additionalProperties': True: any pod spec; checked below as Kubernetes reads it.
  pod_config: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  // An object that holds neither name nor namespace.
  custom_metadata: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && !('name' in v) && !('namespace' in v),
  provision_timeout: (v) => Number.isInteger(v),
  autoscaler: (v) => typeof v === 'string',
  remote_identity: (v) => typeof v === 'string' || (typeof v === 'object' && v !== null),
};

function kubernetesSection(text: string): Record<string, unknown> {
  const doc = parseYaml(text) as Record<string, unknown>;
  // The rendering is only the kubernetes: section, nothing SkyPilot would reject as an unknown top-level key.
  expect(Object.keys(doc)).toEqual(['kubernetes']);
  const section = doc['kubernetes'];
  expect(typeof section === 'object' && section !== null && !Array.isArray(section)).toBe(true);
  const k8s = section as Record<string, unknown>;
  for (const [key, value] of Object.entries(k8s)) {
    const valid = KUBERNETES_SCHEMA[key];
    expect(valid, `kubernetes.${key} is not in SkyPilot's schema`).toBeDefined();
    expect(valid?.(value), `kubernetes.${key}: ${JSON.stringify(value)}`).toBe(true);
  }
  return k8s;
}

describe('renderSkyPilot', () => {
  it('pull secret, the six proxy variables and the port mode, each where SkyPilot\'s schema puts it', () => {
    const r = renderSkyPilot({ registry: 'reg.example:5000', proxy: 'http://proxy.corp:3128', noProxy: '.corp,10.0.0.0/8', pullSecret: 'airgap-registry', ports: 'podip' });
    const k8s = kubernetesSection(r.files[0]?.content ?? '');
    expect(k8s['ports']).toBe('podip');
    const spec = (k8s['pod_config'] as { spec: { imagePullSecrets: unknown; containers: { env: { name: string; value: string }[] }[] } }).spec;
    expect(spec.imagePullSecrets).toEqual([{ name: 'airgap-registry' }]);
    expect(spec.containers).toHaveLength(1);
    expect(spec.containers[0]?.env).toEqual([
      { name: 'HTTP_PROXY', value: 'http://proxy.corp:3128' }, { name: 'http_proxy', value: 'http://proxy.corp:3128' },
      { name: 'HTTPS_PROXY', value: 'http://proxy.corp:3128' }, { name: 'https_proxy', value: 'http://proxy.corp:3128' },
      { name: 'NO_PROXY', value: '.corp,10.0.0.0/8' }, { name: 'no_proxy', value: '.corp,10.0.0.0/8' },
    ]);
    expect(r.files[0]?.installPath).toBe('~/.sky/config.yaml');
  });

  it('internal load balancers through custom_metadata annotations, per cloud', () => {
    const expected = { aws: ['service.beta.kubernetes.io/aws-load-balancer-internal', 'true'], gcp: ['networking.gke.io/load-balancer-type', 'Internal'], azure: ['service.beta.kubernetes.io/azure-load-balancer-internal', 'true'] } as const;
    for (const [cloud, [key, value]] of Object.entries(expected) as [keyof typeof expected, readonly [string, string]][]) {
      const k8s = kubernetesSection(renderSkyPilot({ registry: 'reg.example', ports: 'loadbalancer', internalLb: cloud }).files[0]?.content ?? '');
      expect(k8s['custom_metadata']).toEqual({ annotations: { [key]: value } });
    }
    expect(() => renderSkyPilot({ registry: 'reg.example', ports: 'podip', internalLb: 'aws' })).toThrow(/--ports podip makes none/);
  });

  it('with no setting, an empty section; the task-level image_id of SkyPilot\'s images at their private place', () => {
    const text = renderSkyPilot({ registry: 'reg.example:5000/sky' }).files[0]?.content ?? '';
    expect(kubernetesSection(text)).toEqual({});
    expect(text).toContain('image_id: docker:reg.example:5000/sky/sky-dev-465/skypilotk8s/skypilot:latest');
    expect(text).toContain('image_id: docker:reg.example:5000/sky/sky-dev-465/skypilotk8s/skypilot-gpu:latest');
  });

  it('refuses a pull secret that is no Kubernetes name, and --no-proxy alone', () => {
    expect(() => renderSkyPilot({ registry: 'reg.example', pullSecret: 'Bad_Name' })).toThrow(/not a Kubernetes object name/);
    expect(() => renderSkyPilot({ registry: 'reg.example', noProxy: '.corp' })).toThrow(/--no-proxy without --proxy/);
  });

  it('bundles/skypilot/airgap.yaml carries the two default images the rendering names', async () => {
    const release = await loadRelease(resolve(import.meta.dirname, '../../bundles/skypilot/airgap.yaml'));
    expect(release.warnings).toEqual([]);
    const upstreams = planImages(release).map((p) => p.upstream);
    expect(upstreams).toContain(SKYPILOT_CPU_IMAGE);
    expect(upstreams).toContain(SKYPILOT_GPU_IMAGE);
  });
});
