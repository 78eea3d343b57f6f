import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findKubeTarget } from '../../src/kube/kubeconfig.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-kubeconfig-');
let first: string;
let second: string;

function kubeconfig(current: string | undefined, contexts: { name: string; cluster: string; namespace?: string }[], clusters: string[]): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: clusters.map((name) => ({ name, cluster: { server: `https://${name}.example:6443` } })),
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: contexts.map((c) => ({ name: c.name, context: { cluster: c.cluster, user: 'u', ...(c.namespace === undefined ? {} : { namespace: c.namespace }) } })),
    ...(current === undefined ? {} : { 'current-context': current }),
  });
}

beforeAll(async () => {
  first = join(tmp.path, 'first');
  second = join(tmp.path, 'second');
  await writeFile(first, kubeconfig('prod', [{ name: 'prod', cluster: 'a', namespace: 'shop' }], ['a']));
  await writeFile(second, kubeconfig('lab', [{ name: 'lab', cluster: 'b' }, { name: 'prod', cluster: 'b' }], ['a', 'b']));
  await mkdir(join(tmp.path, 'home', '.kube'), { recursive: true });
  await writeFile(join(tmp.path, 'home', '.kube', 'config'), kubeconfig('lab', [{ name: 'lab', cluster: 'b' }], ['b']));
});

const noPod = { serviceAccountDir: '/nonexistent/serviceaccount' };

describe('findKubeTarget, as kubectl finds the cluster', () => {
  it('KUBECONFIG files merge, the first to define a name or current-context winning', async () => {
    const target = await findKubeTarget({ env: { KUBECONFIG: `${first}:${join(tmp.path, 'missing')}:${second}`, HOME: '/nonexistent' }, ...noPod });
    expect(target).toMatchObject({ context: 'prod', server: 'https://a.example:6443', namespace: 'shop', namespaceFrom: 'context' });
    const lab = await findKubeTarget({ env: { KUBECONFIG: `${first}:${second}` }, context: 'lab', ...noPod });
    expect(lab).toMatchObject({ context: 'lab', server: 'https://b.example:6443', namespace: 'default', namespaceFrom: 'default' });
  });

  it('-n overrides the context namespace; --kubeconfig overrides KUBECONFIG; ~/.kube/config is the fallback', async () => {
    expect(await findKubeTarget({ env: { KUBECONFIG: second }, kubeconfig: first, namespace: 'team', ...noPod })).toMatchObject({ context: 'prod', namespace: 'team', namespaceFrom: 'flag', source: first });
    expect(await findKubeTarget({ env: { HOME: join(tmp.path, 'home') }, ...noPod })).toMatchObject({ context: 'lab', source: join(tmp.path, 'home', '.kube', 'config') });
  });

  it('nothing found is undefined, not localhost:8080; what was asked for and is missing is an error', async () => {
    expect(await findKubeTarget({ env: { HOME: '/nonexistent' }, ...noPod })).toBeUndefined();
    await expect(findKubeTarget({ env: { HOME: '/nonexistent' }, context: 'x', ...noPod })).rejects.toThrow(/--context x: no kubeconfig/);
    await expect(findKubeTarget({ env: { KUBECONFIG: first }, context: 'nope', ...noPod })).rejects.toThrow(/--context nope: no such context/);
    await expect(findKubeTarget({ env: {}, kubeconfig: join(tmp.path, 'missing'), ...noPod })).rejects.toThrow(/no such file/);
    await expect(findKubeTarget({ env: { KUBECONFIG: join(tmp.path, 'missing') }, ...noPod })).rejects.toThrow(/names no existing file/);
    await expect(findKubeTarget({ env: { KUBECONFIG: first }, namespace: 'Bad_Name', ...noPod })).rejects.toThrow(/not a valid namespace name/);
  });

  it('in a pod: the service account, and its namespace', async () => {
    const sa = join(tmp.path, 'sa', 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'tok');
    await writeFile(join(sa, 'ca.crt'), '');
    await writeFile(join(sa, 'namespace'), 'jobs\n');
    const target = await findKubeTarget({ env: { HOME: '/nonexistent', KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    expect(target).toMatchObject({ source: 'in-cluster service account', namespace: 'jobs', namespaceFrom: 'context' });
  });
});
