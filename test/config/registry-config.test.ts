import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { renderRegistryConfig } from '../../src/config/registry-config.ts';
import { makeCertificateAuthority, makeUntrustedCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-config-reg-');
let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
});
describe('renderRegistryConfig', () => {
  it('HTTPS on the registry\'s port with htpasswd, every path absolute', async () => {
    const htpasswd = join(tmp.path, 'htpasswd');
    await writeFile(htpasswd, 'admin:$2y$05$abcdefghijklmnopqrstuuFyqE0w9Xn1G9q3tZ0lX8xQ2F7p6b1Ja\n');
    const r = await renderRegistryConfig({ registry: '127.0.0.1:5443', tlsCert: ca.certFile, tlsKey: ca.keyFile, htpasswd, storageDir: join(tmp.path, 'store') });
    const config = parseYaml(r.files[0]?.content ?? '') as Record<string, unknown>;
    expect(config).toMatchObject({
      version: 0.1,
      storage: { filesystem: { rootdirectory: join(tmp.path, 'store') }, delete: { enabled: true } },
      http: { addr: ':5443', host: 'https://127.0.0.1:5443', tls: { certificate: ca.certFile, key: ca.keyFile } },
      auth: { htpasswd: { realm: '127.0.0.1 registry', path: htpasswd } },
    });
    expect(r.notes).toEqual([]);
  });

  it('finds now what clients would find later: a certificate for another name, another key, a non-bcrypt htpasswd', async () => {
    await expect(renderRegistryConfig({ registry: 'reg.example', tlsCert: ca.certFile, tlsKey: ca.keyFile })).rejects.toThrow(/is not valid for reg\.example \(DNS:localhost, IP Address:127\.0\.0\.1/);
    const other = await makeUntrustedCertificateAuthority(tmp.path);
    await expect(renderRegistryConfig({ registry: 'localhost:5000', tlsCert: ca.certFile, tlsKey: other.keyFile })).rejects.toThrow(/is not the key of --tls-cert/);
    const md5 = join(tmp.path, 'md5');
    await writeFile(md5, 'admin:$apr1$abc$defghijklmnop\n');
    await expect(renderRegistryConfig({ registry: 'localhost:5000', tlsCert: ca.certFile, tlsKey: ca.keyFile, htpasswd: md5 })).rejects.toThrow(/md5:1: not a bcrypt entry/);
    await expect(renderRegistryConfig({ registry: 'localhost:5000/prefix', tlsCert: ca.certFile, tlsKey: ca.keyFile })).rejects.toThrow(/has no path prefix/);
  });

  it('files that live on the registry machine only are named and said to be unchecked; no htpasswd is said', async () => {
    const r = await renderRegistryConfig({ registry: 'reg.example', tlsCert: '/srv/reg/cert.pem', tlsKey: '/srv/reg/key.pem', listen: '10.0.0.5:443' });
    expect((parseYaml(r.files[0]?.content ?? '') as { http: { addr: string } }).http.addr).toBe('10.0.0.5:443');
    expect(r.notes).toEqual(['/srv/reg/cert.pem is not on this machine: its name and key were not checked', 'no --htpasswd: anyone who reaches the registry can pull and push']);
  });
});
