import { cp, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { runOnTerminal, startOnTerminal } from '../support/terminal.ts';
import { useTempDir } from '../support/tmp.ts';

// The commands as an operator at a terminal sees them: the live listr2 displays (each command's tty form),
// and after them the lines that stay. Every other suite reads the plain form, through pipes.
const ROOT = resolve(import.meta.dirname, '../..');
const STAND_INS = join(ROOT, 'test', 'stand-ins');

const tmp = useTempDir('airgap-terminal-');
let upstream: RunningRegistry;
let privateRegistry: RunningRegistry;
let pushed: PushedImage[];
let manifest: string;

beforeAll(async () => {
  [upstream, privateRegistry] = await Promise.all([startRegistry(), startRegistry()]);
  pushed = await pushTestImages(upstream, demoImageSet());
  const release = join(tmp.path, 'release');
  await cp(join(ROOT, 'bundles', 'demo'), release, { recursive: true });
  manifest = join(release, 'airgap.yaml');
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('127.0.0.1:5000', upstream.host));
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), privateRegistry?.stop()]);
});

describe('on a terminal', () => {
  it('collect, load, deploy and serve each show their steps live, then the lines that stay', async () => {
    const carried = join(tmp.path, 'carried');
    const collected = await runOnTerminal(['collect', manifest, '-o', carried, '--plain-http', upstream.host]);
    expect(collected.code, collected.text).toBe(0);
    expect(collected.text).toContain(`Release demo 1.0: ${pushed.length} images, 2 charms`);
    expect(collected.text).toMatch(/Resolved \d+ images \(/);
    expect(collected.text).toContain(`Collected ${pushed.length} images (`);

    const charms = join(tmp.path, 'offline', 'charms');
    const loaded = await runOnTerminal(['load', carried, '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--charms-dir', charms]);
    expect(loaded.code, loaded.text).toBe(0);
    expect(loaded.text).toMatch(new RegExp(`Load ${pushed.length} images: ${pushed.length} done`));
    expect(loaded.text).toContain(`Loaded ${pushed.length} images into ${privateRegistry.host}`);

    const jujuDir = await tmp.files('juju', { 'state.json': JSON.stringify({ model: 'kubeflow' }) });
    const deployed = await runOnTerminal(
      ['deploy', join(charms, 'airgap.yaml'), '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--charms-dir', charms, '--lock', join(carried, 'airgap-lock.json'), '--poll-interval', '100ms'],
      { env: { PATH: `${STAND_INS}:${process.env['PATH'] ?? ''}`, JUJU_STANDIN_STATE: join(jujuDir, 'state.json'), JUJU_STANDIN_CONTROLLER_CONFIG: JSON.stringify({ 'caas-image-repo': `${privateRegistry.host}/jujusolutions` }), HOME: jujuDir, KUBECONFIG: '' } },
    );
    expect(deployed.code, deployed.text).toBe(0);
    expect(deployed.text).toContain('Wait for 2 applications to be active');
    expect(deployed.text).toContain('app-a: active');
    expect(deployed.text).toContain('demo-extra: active');
    // The closing line comes after the display's last frame, not inside it.
    expect(deployed.text.lastIndexOf('Deployed: ')).toBeGreaterThan(deployed.text.lastIndexOf('demo-extra: active'));

    const serving = startOnTerminal(['serve', join(carried, 'images.tar.gz'), '--listen', '127.0.0.1:0']);
    await serving.waitFor(/Serving \d+ images at http:\/\/127\.0\.0\.1:\d+ /);
    const url = /Serving \d+ images at (http:\/\/127\.0\.0\.1:\d+) /.exec(serving.text())?.[1] ?? '';
    expect((await fetch(`${url}/v2/`)).status).toBe(200);
    await serving.waitFor(/1 requests, /);
    await serving.signal('SIGTERM');
    const { code } = await serving.exited;
    expect(code, serving.text()).toBe(0);
    expect(serving.text()).toMatch(/unpacked \d+ images in [\d.]+ s: \d+ blobs written/);
    expect(serving.text()).toContain('e.g. skopeo inspect --tls-verify=false docker://127.0.0.1:');
    expect(serving.text().trimEnd().endsWith('stopped: every request in flight was answered')).toBe(true);
  });

  it('check shows a spinner per part while they run, then one line per check and the count', async () => {
    const result = await runOnTerminal(['check', '--registry', privateRegistry.host, '--plain-http', privateRegistry.host, '--juju', join(tmp.path, 'no-juju')], { env: { HOME: tmp.path, KUBECONFIG: '' } });
    expect(result.code).toBe(1);
    expect(result.text).toMatch(/Check the registry: \d+ ok/);
    expect(result.text).toContain('Check Juju: 1 fail');
    const afterDisplay = result.text.slice(result.text.lastIndexOf('Check Kubernetes and its CoreDNS'));
    expect(afterDisplay).toMatch(/^fail {2}juju {8}juju found/m);
    expect(afterDisplay).toMatch(/^1 failed, 0 warning\(s\), \d+ ok, \d+ skipped$/m);
    expect(afterDisplay).toContain('error: 1 check(s) failed: juju juju found');
  });
});
