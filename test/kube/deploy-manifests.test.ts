import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { deployManifests, preflightManifests } from '../../src/kube/deploy-manifests.ts';
import type { KubeEvent } from '../../src/kube/events.ts';
import { startStandInKubeApiServer, type StandInKubeApiServer } from '../stand-ins/kube-apiserver.ts';
import { useTempDir } from '../support/tmp.ts';

// The library against the stand-in API server (test/stand-ins/README.md), in-process and fast.
const tmp = useTempDir('airgap-kube-');
let api: StandInKubeApiServer;

const MANIFEST = `apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      initContainers: [{ name: init, image: reg.example:5000/init:1 }]
      containers: [{ name: web, image: reg.example:5000/web:1, env: [{ name: HTTP_PROXY, value: old }, { name: KEEP, value: x }] }]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
spec:
  group: example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions: [{ name: v1, served: true, storage: true, schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } } }]
---
apiVersion: example.com/v1
kind: Widget
metadata: { name: w1, namespace: shop }
spec: { size: 3 }
---
apiVersion: v1
kind: Service
metadata: { name: gw, namespace: shop }
spec: { type: LoadBalancer, loadBalancerIP: 10.0.0.9, ports: [{ port: 80 }] }
`;

beforeAll(async () => {
  api = await startStandInKubeApiServer({ dir: tmp.path, stepMs: 50 });
});

afterAll(async () => {
  await api?.stop();
});

describe('deployManifests against the stand-in API server', () => {
  it('applies in order with the air-gap settings and waits for the rollout', async () => {
    const events: KubeEvent[] = [];
    const result = await deployManifests({
      manifests: [{ file: join(tmp.path, 'app.yaml'), text: MANIFEST }],
      options: { kubeconfig: api.kubeconfig, proxy: 'http://proxy:3128', serviceType: 'NodePort' },
      pullSecret: { name: 'airgap-registry', registry: 'reg.example:5000', username: 'u', password: 'p' },
      dryRun: false,
      optional: false,
      timeoutMs: 20_000,
      pollMs: 100,
      onEvent: (e) => events.push(e),
    });
    expect(result.objects.map((r) => `${r.kind}/${r.name}`)).toEqual([
      'Namespace/shop', 'CustomResourceDefinition/widgets.example.com', 'Secret/airgap-registry', 'Deployment/web', 'Widget/w1', 'Service/gw',
    ]);
    const applies = api.applies();
    expect(applies.every((r) => r.query['fieldManager'] === 'airgap' && r.query['force'] === 'true')).toBe(true);
    const web = api.get('apps/v1', 'Deployment', 'shop', 'web');
    expect(JSON.stringify(web)).toContain('airgap-registry');
    expect(events.some((e) => e.type === 'kube-rollout' && e.done)).toBe(true);
    expect(api.get('v1', 'Service', 'shop', 'gw')?.['spec']).toMatchObject({ type: 'NodePort' });
  });

  it('preflight finds what is wrong without asking the cluster', async () => {
    const before = api.requests.length;
    await expect(preflightManifests({ manifests: [{ file: '/r/app.yaml', text: MANIFEST }], options: { kubeconfig: api.kubeconfig, namespace: 'team' } }))
      .rejects.toThrow(/Deployment web is in namespace shop, but -n team was given/);
    await expect(preflightManifests({ manifests: [{ file: '/r/app.yaml', text: MANIFEST }], options: { kubeconfig: api.kubeconfig, context: 'nope' } }))
      .rejects.toThrow(/--context nope/);
    expect(api.requests.length).toBe(before);
  });

  it('with no kubeconfig anywhere: skipped when optional, a dry run still lists the objects, otherwise a failure', async () => {
    const env = { HOME: '/nonexistent' };
    const manifests = [{ file: '/r/app.yaml', text: MANIFEST }];
    const events: KubeEvent[] = [];
    const skipped = await deployManifests({ manifests, options: { env, serviceAccountDir: '/nonexistent' }, dryRun: false, optional: true, timeoutMs: 1000, onEvent: (e) => events.push(e) });
    expect(skipped.skipped).toMatch(/^no kubeconfig/);
    expect(events.map((e) => e.type)).toEqual(['kube-skipped']);
    const dry = await deployManifests({ manifests, options: { env, serviceAccountDir: '/nonexistent' }, dryRun: true, optional: false, timeoutMs: 1000 });
    expect(dry.objects.map((r) => `${r.kind} ${r.namespace ?? ''}`)).toContain('Widget shop');
    await expect(deployManifests({ manifests, options: { env, serviceAccountDir: '/nonexistent', proxy: 'http://p:1' }, dryRun: false, optional: true, timeoutMs: 1000 }))
      .rejects.toThrow(/cannot apply \/r\/app.yaml: no kubeconfig/);
  });
});
