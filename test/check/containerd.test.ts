import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkContainerdConfig } from '../../src/check/containerd.ts';
import { renderContainerd } from '../../src/config/containerd.ts';
import { writeRendering } from '../../src/config/rendered.ts';
import { makeCertificateAuthority, makeUntrustedCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-check-ctrd-');
let ca: CertificateAuthority;
let other: CertificateAuthority;
beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  other = await makeUntrustedCertificateAuthority(tmp.path);
});
async function rendered(registry: string, caFile: string | undefined, mirrorFor: string[] = []): Promise<string> {
  const dir = join(await tmp.dir('case'), 'certs.d');
  await writeRendering(await renderContainerd({ flavour: 'containerd', registry, caFile, mirrorFor }), dir, false);
  return dir;
}

function lines(results: { status: string; what: string }[]): string[] {
  return results.map((r) => `${r.status} ${r.what}`);
}

describe('airgap check --containerd-config', () => {
  it('what airgap config rendered is ok: the registry, its CA (the --ca-file one), each mirror', async () => {
    const dir = await rendered('reg.example:5000/mirror', ca.caFile, ['docker.io', 'quay.io']);
    const results = await checkContainerdConfig({ dir, registry: 'reg.example:5000/mirror', caFiles: [ca.caFile] });
    expect(lines(results)).toEqual(['ok registry host', 'ok registry CA', 'ok mirror docker.io', 'ok mirror quay.io']);
    expect(results[2]?.detail).toMatch(/^docker\.io\/\.\.\. is pulled from https:\/\/reg\.example:5000\/v2\/mirror, ca ca\.crt \(CN=airgap test CA/);
  });

  it('fails a directory without the registry, a CA that is not --ca-file\'s, a missing CA file and a mirror without override_path', async () => {
    const empty = join(tmp.path, 'empty');
    await mkdir(empty);
    expect(lines(await checkContainerdConfig({ dir: empty, registry: 'reg.example', caFiles: [ca.caFile] }))).toEqual(['fail registry host']);
    expect(lines(await checkContainerdConfig({ dir: empty, registry: 'reg.example' }))).toEqual(['warn registry host']);

    const wrongCa = await rendered('reg.example', other.caFile);
    const results = await checkContainerdConfig({ dir: wrongCa, registry: 'reg.example', caFiles: [ca.caFile] });
    expect(results[1]).toMatchObject({ status: 'fail', what: 'registry CA' });
    expect(results[1]?.detail).toContain('is not the --ca-file certificate');

    const dir = await rendered('reg.example', undefined, ['docker.io']);
    await writeFile(join(dir, 'reg.example', 'hosts.toml'), 'server = "https://reg.example"\n[host."https://reg.example"]\n  ca = "missing.crt"\n');
    await writeFile(join(dir, 'docker.io', 'hosts.toml'), 'server = "https://registry-1.docker.io"\n[host."https://reg.example"]\n  capabilities = ["pull", "resolve"]\n');
    const broken = await checkContainerdConfig({ dir, registry: 'reg.example' });
    expect(lines(broken)).toEqual(['ok registry host', 'fail registry CA', 'fail mirror docker.io']);
    expect(broken[1]?.detail).toContain('missing.crt does not exist');
    expect(broken[2]?.detail).toContain('no override_path = true');
    expect(broken[2]?.detail).toContain('its path is /, not /v2');
  });

  it('a hosts.toml containerd 1.6 would throw away: no [host] table, or not TOML', async () => {
    const dir = join(tmp.path, 'old-style');
    await mkdir(join(dir, 'reg.example'), { recursive: true });
    await writeFile(join(dir, 'reg.example', 'hosts.toml'), 'server = "https://reg.example"\nca = "ca.crt"\n');
    expect((await checkContainerdConfig({ dir, registry: 'reg.example' }))[0]).toMatchObject({ status: 'fail', detail: expect.stringContaining('invalid `host` tree') });
    await writeFile(join(dir, 'reg.example', 'hosts.toml'), 'server = https://reg.example\n');
    expect((await checkContainerdConfig({ dir, registry: 'reg.example' }))[0]?.detail).toContain('is not valid TOML, so containerd ignores it');
  });

  it('finds the HOST_PORT_ directory containerd looks in first; a directory that is not there fails', async () => {
    const dir = await rendered('reg.example:5000', ca.caFile);
    const { rename } = await import('node:fs/promises');
    await rename(join(dir, 'reg.example:5000'), join(dir, 'reg.example_5000_'));
    expect(lines(await checkContainerdConfig({ dir, registry: 'reg.example:5000' }))).toEqual(['ok registry host', 'ok registry CA']);
    expect(lines(await checkContainerdConfig({ dir: join(tmp.path, 'nope'), registry: 'reg.example' }))).toEqual(['fail hosts directory']);
    expect(lines(await checkContainerdConfig({ dir, registry: undefined }))).toEqual(['skip registry host']);
  });
});
