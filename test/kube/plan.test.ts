import { describe, expect, it } from 'vitest';
import { builtInScope, crdScopes, parseManifestObjects, type Scope } from '../../src/kube/objects.ts';
import { planApply, type ApplyPlanOptions } from '../../src/kube/plan.ts';

const TEXT = `apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { a: "1" }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec: { template: { spec: { containers: [{ name: web, image: reg:5000/web:1 }] } } }
---
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
spec: { group: example.com, scope: Namespaced, names: { kind: Widget, plural: widgets } }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: reader, namespace: ignored }
---
apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: { name: gw, namespace: shop }
    spec: { type: LoadBalancer }
`;

const sources = await parseManifestObjects('/r/app.yaml', TEXT);
const crds = crdScopes(sources);
const scopeOf = (apiVersion: string, kind: string): Scope => builtInScope(apiVersion, kind) ?? crds.get(`${apiVersion.split('/')[0]}/${kind}`) ?? 'Namespaced';
const base: ApplyPlanOptions = { namespace: 'default', namespaceExplicit: false, scopeOf };

describe('planApply', () => {
  it('applies Namespaces and CRDs first, then the pull secrets, then the rest in file order', () => {
    const plan = planApply(sources, { ...base, pullSecret: { name: 'airgap-registry', registry: 'reg:5000', username: 'u', password: 'p' } });
    expect(plan.objects.map((o) => `${o.ref.kind} ${o.ref.namespace ?? '-'}/${o.ref.name}`)).toEqual([
      'Namespace -/shop',
      'CustomResourceDefinition -/widgets.example.com',
      'Secret default/airgap-registry',
      'Secret shop/airgap-registry',
      'ConfigMap default/settings',
      'Deployment default/web',
      'Widget default/w',
      'ClusterRole -/reader',
      'Service shop/gw',
    ]);
    expect(plan.namespaces).toEqual(['default', 'shop']);
    expect(plan.rollouts.map((r) => r.name)).toEqual(['web']);
    expect(plan.changes[0]).toContain('imagePullSecrets airgap-registry added to 1 workload(s): Deployment default/web');
    const secret = plan.objects[2]?.object;
    expect(secret?.['type']).toBe('kubernetes.io/dockerconfigjson');
    const config = JSON.parse(Buffer.from(String((secret?.['data'] as Record<string, string>)['.dockerconfigjson']), 'base64').toString('utf8')) as unknown;
    expect(config).toEqual({ auths: { 'reg:5000': { username: 'u', password: 'p', auth: Buffer.from('u:p').toString('base64') } } });
  });

  it('leaves the objects as read untouched', () => {
    const before = JSON.stringify(sources);
    planApply(sources, { ...base, proxy: { proxy: 'http://p:1' }, serviceType: 'NodePort', internalServices: 'aws' });
    expect(JSON.stringify(sources)).toBe(before);
  });

  it('uses -n for objects that name no namespace, and refuses one naming another, as kubectl does', async () => {
    const plain = await parseManifestObjects('/r/a.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n');
    expect(planApply(plain, { ...base, namespace: 'team', namespaceExplicit: true }).objects[0]?.ref.namespace).toBe('team');
    expect(() => planApply(sources, { ...base, namespace: 'team', namespaceExplicit: true })).toThrow(/Service gw is in namespace shop, but -n team was given/);
  });

  it('notes the Service changes', () => {
    const plan = planApply(sources, { ...base, serviceType: 'NodePort' });
    expect(plan.changes).toEqual(['Service shop/gw: LoadBalancer -> NodePort']);
    const internal = planApply(sources, { ...base, internalServices: 'gcp' });
    expect(internal.changes).toEqual(['Service shop/gw: internal load balancer only (gcp)']);
  });

  it('refuses an object defined twice, naming both places', async () => {
    const twice = await parseManifestObjects('/r/a.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: c, namespace: default }\n');
    expect(() => planApply(twice, base)).toThrow(/ConfigMap default\/c is defined twice: in \/r\/a.yaml:5 and in \/r\/a.yaml:1/);
  });
});

describe('parseManifestObjects', () => {
  it('names the line of an object without a name', async () => {
    await expect(parseManifestObjects('/r/a.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n---\napiVersion: v1\nkind: Pod\nmetadata: { generateName: p- }\n')).rejects.toThrow(/a.yaml:5: Pod the document has no metadata.name/);
  });
});
