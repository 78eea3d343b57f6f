/** How a packed charm runs on Kubernetes, read from its metadata.yaml and manifest.yaml in place. */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCharmRuntime } from '../../src/charm/bases.ts';
import { writeTestCharm } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';

const CKF_CHARMS = resolve(import.meta.dirname, '../fixtures/ckf/release-1.8/charms');
const MANIFEST = (channel: string): string => `bases:\n- architectures: [amd64]\n  channel: '${channel}'\n  name: ubuntu\ncharmcraft-version: 2.6.0\n`;

const tmp = useTempDir('airgap-bases-');
describe('readCharmRuntime', () => {
  it('a sidecar charm (no series: in metadata.yaml) runs on the bases of its manifest.yaml', async () => {
    const file = join(tmp.path, 'sidecar.charm');
    await writeTestCharm(file, 'sidecar', { 'manifest.yaml': MANIFEST('22.04') });
    expect(await readCharmRuntime(file, 'sidecar.charm')).toEqual({ kind: 'sidecar', bases: [{ name: 'ubuntu', channel: '22.04' }] });
  });

  it('a PodSpec charm (series: [kubernetes], Juju charm format 1) needs no charm-base, whatever its manifest says', async () => {
    const file = join(tmp.path, 'podspec.charm');
    await writeTestCharm(file, 'podspec', { 'metadata.yaml': 'name: podspec\nseries: [kubernetes]\n', 'manifest.yaml': MANIFEST('20.04') });
    expect(await readCharmRuntime(file)).toEqual({ kind: 'podspec' });
  });

  it('a charm with no manifest.yaml has a base nobody can know', async () => {
    const file = join(tmp.path, 'old.charm');
    await writeTestCharm(file, 'old');
    expect(await readCharmRuntime(file)).toEqual({ kind: 'unknown' });
  });

  it('a manifest.yaml with no bases, and a file that is no zip, are errors naming the charm', async () => {
    const file = join(tmp.path, 'nobases.charm');
    await writeTestCharm(file, 'nobases', { 'manifest.yaml': 'charmcraft-version: 2.6.0\n' });
    await expect(readCharmRuntime(file, 'nobases_r3.charm')).rejects.toThrow('nobases_r3.charm: manifest.yaml has no bases: list');
    await expect(readCharmRuntime(join(CKF_CHARMS, '..', 'bundle.yaml'))).rejects.toThrow(/not a charm: it is not a zip file/);
  });

  it('on the Charmed Kubeflow 1.8 charms: five PodSpec charms, the others sidecar on 20.04, mysql-k8s on 22.04', async () => {
    const runtimes = new Map<string, string>();
    for (const file of (await readdir(CKF_CHARMS)).sort()) {
      const runtime = await readCharmRuntime(join(CKF_CHARMS, file));
      runtimes.set(file.replace(/_r\d+\.charm$/, ''), runtime.kind === 'sidecar' ? runtime.bases.map((b) => b.channel).join(',') : runtime.kind);
    }
    expect([...runtimes].filter(([, kind]) => kind === 'podspec').map(([name]) => name)).toEqual(['envoy', 'katib-controller', 'kubeflow-volumes', 'minio', 'mlmd']);
    expect(runtimes.get('mysql-k8s')).toBe('22.04');
    expect([...runtimes.values()].filter((kind) => kind === '20.04')).toHaveLength(31);
  });
});
