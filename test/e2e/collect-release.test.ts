import { createHash } from 'node:crypto';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { unpackTarGz } from '../support/archive.ts';
import { makeCertificateAuthority, type CertificateAuthority } from '../support/ca.ts';
import { pushTestImages, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { testCharm } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';
import type { Lock } from '../../src/lock.ts';

// Release features beyond images: charms fetched over HTTPS (private CA, sha256 checked) and the
// guide's digest-hex tags, pulled by digest from upstream.
const PLACEHOLDER = '172.17.0.2:5000';
const CHARM = await testCharm('extra', { 'README.md': 'a charm served over https' });
const CHARM_SHA = createHash('sha256').update(CHARM).digest('hex');

const tmp = useTempDir('airgap-collect-release-');
let ca: CertificateAuthority;
let registry: RunningRegistry;
let image: PushedImage;
let charmServer: Server;
let charmHost: string;

beforeAll(async () => {
  ca = await makeCertificateAuthority(join(tmp.path, 'ca'));
  registry = await startRegistry();
  [image] = (await pushTestImages(registry, [{ repository: 'knative-releases/knative.dev/serving/cmd/queue', tag: 'v1', layers: [{ seed: 'queue', sizeBytes: 30_000 }] }])) as [PushedImage];
  charmServer = createServer({ cert: await readFile(ca.certFile), key: await readFile(ca.keyFile) }, (req, res) => {
    if (req.url === '/charms/extra_3.charm') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(CHARM);
    } else if (req.url === '/old/extra.charm') {
      res.writeHead(302, { location: '/charms/extra_3.charm' });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => charmServer.listen(0, '127.0.0.1', resolve));
  charmHost = `127.0.0.1:${(charmServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => charmServer?.close(resolve));
  await registry?.stop();
});

async function release(name: string, charmUrl: string, sha: string): Promise<string> {
  const dir = join(tmp.path, name);
  await mkdir(dir);
  const hex = image.digest.slice('sha256:'.length);
  await writeFile(join(dir, 'airgap.yaml'), [
    'name: r', `placeholder: ${PLACEHOLDER}`, 'upstream:', `  "*": ${registry.host}`,
    'charms:', '  - name: extra', `    charm: ${charmUrl}`, `    sha256: ${sha}`,
    // As the guide writes knative's images: tagged with their digest's hex.
    'images:', `  - ${PLACEHOLDER}/knative-releases/knative.dev/serving/cmd/queue:${hex}`, '',
  ].join('\n'));
  return join(dir, 'airgap.yaml');
}

describe('collect of a release with https charms and digest-hex tags', () => {
  it('downloads the charm over https with a private CA, following a redirect, and pulls by digest', async () => {
    const manifest = await release('ok', `https://${charmHost}/old/extra.charm`, CHARM_SHA);
    const out = join(tmp.path, 'ok-out');
    // Not about Juju's own images: without a juju here they would only be warned about.
    const result = await runAirgap(['collect', manifest, '-o', out, '--plain-http', registry.host, '--ca-file', ca.caFile, '--no-juju-images']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lock = JSON.parse(await readFile(join(out, 'airgap-lock.json'), 'utf8')) as Lock;
    expect(lock.charms).toEqual([expect.objectContaining({ name: 'extra', file: 'extra.charm', sha256: CHARM_SHA, size: CHARM.length })]);
    const members = await unpackTarGz(join(out, 'charms.tar.gz'), join(tmp.path, 'ok-charms'));
    // Named after the URL the release wrote, which is where deploy looks for it.
    expect(members.map((m) => m.name)).toContain('extra.charm');
    expect(await readFile(join(tmp.path, 'ok-charms', 'extra.charm'))).toEqual(CHARM);
    const locked = lock.images[0];
    expect(locked?.upstream).toBe(`${registry.host}/knative-releases/knative.dev/serving/cmd/queue@${image.digest}`);
    expect(locked?.digest).toBe(image.digest);
    expect(locked?.path).toBe(`knative-releases/knative.dev/serving/cmd/queue:${image.digest.slice(7)}`);
  });

  it('refuses a charm whose sha256 differs, leaving nothing', async () => {
    const manifest = await release('bad-sha', `https://${charmHost}/charms/extra_3.charm`, '0'.repeat(64));
    const result = await runAirgap(['collect', manifest, '-o', join(tmp.path, 'bad-sha-out'), '--plain-http', registry.host, '--ca-file', ca.caFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`has sha256 ${CHARM_SHA}`);
    expect(result.stderr).toContain('extra');
  });

  it('says how to trust the charm server when its CA is unknown', async () => {
    const manifest = await release('untrusted', `https://${charmHost}/charms/extra_3.charm`, CHARM_SHA);
    const result = await runAirgap(['collect', manifest, '-o', join(tmp.path, 'untrusted-out'), '--plain-http', registry.host]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--ca-file');
  });
});
