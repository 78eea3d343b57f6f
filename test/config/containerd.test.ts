import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderContainerd } from '../../src/config/containerd.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { useTempDir } from '../support/tmp.ts';

interface HostsToml {
  server: string;
  ca?: string;
  host: Record<string, { capabilities: string[]; ca?: string; override_path?: boolean }>;
}

const tmp = useTempDir('airgap-config-ctrd-');
let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
});
function toml(text: string | undefined): HostsToml {
  return parseToml(text ?? '') as unknown as HostsToml;
}

describe('renderContainerd', () => {
  it('the registry\'s own directory: HTTPS with the CA beside it; each mirror: /v2/PREFIX with override_path', async () => {
    const r = await renderContainerd({ flavour: 'containerd', registry: 'reg.example:5000/mirror', caFile: ca.caFile, mirrorFor: ['docker.io', 'index.docker.io', 'quay.io'] });
    expect(r.files.map((f) => f.installPath)).toEqual([
      '/etc/containerd/certs.d/reg.example:5000/hosts.toml', '/etc/containerd/certs.d/reg.example:5000/ca.crt',
      '/etc/containerd/certs.d/docker.io/hosts.toml', '/etc/containerd/certs.d/docker.io/ca.crt',
      '/etc/containerd/certs.d/quay.io/hosts.toml', '/etc/containerd/certs.d/quay.io/ca.crt',
    ]);
    const own = toml(r.files[0]?.content);
    expect(own).toEqual({ server: 'https://reg.example:5000', ca: 'ca.crt', host: { 'https://reg.example:5000': { capabilities: ['pull', 'resolve', 'push'], ca: 'ca.crt' } } });
    expect(r.files[1]?.content).toContain('-----BEGIN CERTIFICATE-----');
    expect(toml(r.files[2]?.content)).toEqual({ server: 'https://registry-1.docker.io', host: { 'https://reg.example:5000/v2/mirror': { capabilities: ['pull', 'resolve'], ca: 'ca.crt', override_path: true } } });
    expect(toml(r.files[4]?.content).server).toBe('https://quay.io');
  });

  it('MicroK8s: the same files under its own certs.d; without a CA, the system trust store', async () => {
    const r = await renderContainerd({ flavour: 'microk8s', registry: 'reg.example', mirrorFor: ['docker.io'] });
    expect(r.files.map((f) => f.installPath)).toEqual(['/var/snap/microk8s/current/args/certs.d/reg.example/hosts.toml', '/var/snap/microk8s/current/args/certs.d/docker.io/hosts.toml']);
    expect(toml(r.files[1]?.content).host).toEqual({ 'https://reg.example/v2': { capabilities: ['pull', 'resolve'], override_path: true } });
    expect(r.notes.join(' ')).toContain('MicroK8s 1.23');
  });

  it('refuses what containerd would not use: a file that is no certificate, a mirror that is the registry', async () => {
    await expect(renderContainerd({ flavour: 'containerd', registry: 'reg.example', caFile: ca.keyFile })).rejects.toThrow(/holds no PEM certificate/);
    await expect(renderContainerd({ flavour: 'containerd', registry: 'reg.example', mirrorFor: ['reg.example'] })).rejects.toThrow(/is the private registry itself/);
    await expect(renderContainerd({ flavour: 'containerd', registry: 'reg.example', mirrorFor: ['not a host'] })).rejects.toThrow(/not a registry host/);
    await expect(renderContainerd({ flavour: 'containerd', registry: 'https://reg.example' })).rejects.toThrow(/URL scheme/);
  });
});
