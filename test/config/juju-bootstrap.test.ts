import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { renderJujuBootstrap } from '../../src/config/juju-bootstrap.ts';
import { useTempDir } from '../support/tmp.ts';

// The script is run by a real sh against the stand-in juju (test/stand-ins/README.md): no controller here.
const execFileAsync = promisify(execFile);
const STAND_INS = resolve(import.meta.dirname, '../stand-ins');
const tmp = useTempDir('airgap-config-juju-');
async function runScript(script: string, env: NodeJS.ProcessEnv): Promise<{ cloud: string; controller?: string; config: Record<string, string> }> {
  const file = join(tmp.path, 'bootstrap.sh');
  const kept = join(tmp.path, 'kept.json');
  await writeFile(file, script);
  await execFileAsync('sh', [file], { env: { PATH: `${STAND_INS}:${process.env['PATH'] ?? ''}`, TMPDIR: tmp.path, JUJU_STANDIN_BOOTSTRAP_CONFIG: kept, ...env } });
  return JSON.parse(await readFile(kept, 'utf8')) as { cloud: string; controller?: string; config: Record<string, string> };
}

describe('airgap config juju', () => {
  it('bootstraps with caas-image-repo at the private registry, listing the images of that Juju and those bases', async () => {
    const r = renderJujuBootstrap({ registry: 'reg.example:5000/mirror', jujuVersion: '3.4.0', bases: [{ name: 'ubuntu', channel: '22.04' }], controller: 'offline' });
    const script = r.files[0]?.content ?? '';
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    for (const image of ['jujud-operator:3.4.0', 'juju-db:4.4', 'charm-base:ubuntu-22.04']) expect(script).toContain(`#   reg.example:5000/mirror/jujusolutions/${image}   `);
    expect(await runScript(script, {})).toEqual({ cloud: 'microk8s', controller: 'offline', config: { 'caas-image-repo': 'reg.example:5000/mirror/jujusolutions' } });
  });

  it('with --username, the password comes from the environment at run time, into a file Juju reads and that is removed', async () => {
    const r = renderJujuBootstrap({ registry: 'reg.example:5000', username: 'deployer' });
    const script = r.files[0]?.content ?? '';
    expect(script).not.toMatch(/p@ss/);
    const kept = await runScript(script, { AIRGAP_REGISTRY_PASSWORD: 'p@ss "w0rd"\\' });
    expect(JSON.parse(kept.config['caas-image-repo'] ?? '{}')).toEqual({
      repository: 'reg.example:5000/jujusolutions',
      serveraddress: 'reg.example:5000',
      auth: Buffer.from('deployer:p@ss "w0rd"\\').toString('base64'),
    });
    expect((await readdir(tmp.path)).filter((f) => f.startsWith('tmp.'))).toEqual([]);
    await expect(runScript(script, {})).rejects.toThrow(/set AIRGAP_REGISTRY_PASSWORD/);
  });

  it('without --juju-version it explains the tags; names that are not Juju names are refused', () => {
    const script = renderJujuBootstrap({ registry: 'reg.example' }).files[0]?.content ?? '';
    expect(script).toContain('reg.example/jujusolutions/jujud-operator:VERSION');
    expect(() => renderJujuBootstrap({ registry: 'reg.example', cloud: 'My Cloud' })).toThrow(/not a Juju name/);
  });
});
