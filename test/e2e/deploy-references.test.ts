import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { useTempDir } from '../support/tmp.ts';

// Issue 16: deploy rewrote references it could not parse, skipped them when proving the images ("0 images
// present", exit 0), and a real run went on to `juju deploy`. Now such a reference stops the deploy at
// its file and line, before the registry is asked anything, Juju is run or a file is written.
const STAND_INS = resolve(import.meta.dirname, '../stand-ins');
const PLACEHOLDER = '172.17.0.2:5000';

const tmp = useTempDir('airgap-deploy-refs-');
let registry: RunningRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});

afterAll(async () => {
  await registry?.stop();
});

interface Case {
  dir: string;
  jujuLog: string;
  run: (target: string, extra?: string[]) => ReturnType<typeof runAirgap>;
}

async function newCase(files: Record<string, string>): Promise<Case> {
  const dir = await tmp.files('case', files);
  const jujuLog = join(dir, 'juju.log');
  // The model's state lives apart from the release files.
  const state = join(await tmp.files('juju', { 'state.json': JSON.stringify({ model: 'kubeflow' }) }), 'state.json');
  return {
    dir,
    jujuLog,
    run: (target, extra = []) =>
      runAirgap(['deploy', join(dir, target), '--registry', registry.host, '--plain-http', registry.host, '--placeholder', PLACEHOLDER, ...extra], {
        cwd: dir,
        env: { PATH: `${STAND_INS}:${process.env['PATH'] ?? ''}`, JUJU_STANDIN_STATE: state, JUJU_STANDIN_LOG: jujuLog, HOME: dir, KUBECONFIG: '' },
      }),
  };
}

function bundle(reference: string): string {
  return [
    'bundle: kubernetes',
    'applications:',
    '  good:',
    '    charm: good',
    `    resources: { oci-image: ${PLACEHOLDER}/shop/good:1.0 }`,
    '  bad:',
    '    charm: bad',
    `    resources: { oci-image: "${reference}" }`,
    '',
  ].join('\n');
}

/** Requests the registry has answered so far (its access log, one line per request). */
function registryRequests(): number {
  return registry.logs().split('\n').filter((line) => line.includes('/v2/')).length;
}

describe('deploy with a reference it cannot parse', () => {
  it.each([
    ['upper case', `${PLACEHOLDER}/Shop/Bad:1.0`, 'repository name "Shop/Bad" must be lowercase'],
    ['a 300-character tag', `${PLACEHOLDER}/shop/bad:${'t'.repeat(300)}`, `invalid tag "${'t'.repeat(300)}"`],
    ['non-ASCII', `${PLACEHOLDER}/shop/bäd:1.0`, 'invalid path component "bäd"'],
  ])('%s in a bundle: one line naming the file and line; nothing proved, deployed or written', async (_name, reference, why) => {
    const c = await newCase({ 'bundle.yaml': bundle(reference) });
    const before = registryRequests();
    const result = await c.run('bundle.yaml');
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`error: ${join(c.dir, 'bundle.yaml')}:8:30: applications.bad.resources.oci-image: invalid image reference`);
    expect(lines[0]).toContain(why);
    expect(lines[0]).toContain('(write it as HOST[:PORT]/NAME[:TAG]');
    expect(result.stdout).toBe('');
    expect(registryRequests()).toBe(before);
    expect(existsSync(c.jujuLog)).toBe(false);
    expect((await readdir(c.dir)).sort()).toEqual(['bundle.yaml']);
  });

  it('in a Kubernetes manifest of airgap.yaml, and in an extra charm\'s config: the same', async () => {
    const c = await newCase({
      'airgap.yaml': [
        'name: shop',
        `placeholder: ${PLACEHOLDER}`,
        'bundle: bundle.yaml',
        'manifests: [web.yaml]',
        '',
      ].join('\n'),
      'bundle.yaml': bundle(`${PLACEHOLDER}/shop/fine:1.0`),
      'web.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: web }\ndata:\n  image: ${PLACEHOLDER}/Shop/Web:1\n`,
    });
    const before = registryRequests();
    const manifest = await c.run('airgap.yaml', ['--dry-run']);
    expect(manifest.code).toBe(1);
    expect(manifest.stderr).toContain(`error: ${join(c.dir, 'web.yaml')}:5:10: data.image: invalid image reference "${PLACEHOLDER}/Shop/Web:1": repository name "Shop/Web" must be lowercase`);
    expect(manifest.stdout).toBe('');

    await writeFile(join(c.dir, 'web.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: web }\n');
    await writeFile(join(c.dir, 'airgap.yaml'), [
      'name: shop',
      `placeholder: ${PLACEHOLDER}`,
      'charms:',
      '  - name: extra',
      '    charm: ./extra.charm',
      `    config: { image: "${PLACEHOLDER}/shop/ÉXTRA:1" }`,
      '',
    ].join('\n'));
    const charm = await c.run('airgap.yaml');
    expect(charm.code).toBe(1);
    expect(charm.stderr).toContain(`error: ${join(c.dir, 'airgap.yaml')}:4: charms[0].config.image: invalid image reference`);
    expect(charm.stdout).toBe('');
    expect(registryRequests()).toBe(before);
    expect(existsSync(c.jujuLog)).toBe(false);
    expect((await readdir(c.dir)).sort()).toEqual(['airgap.yaml', 'bundle.yaml', 'web.yaml']);
  });

  it('the registry log counts requests: a deploy that gets as far as proving shows in it', async () => {
    const c = await newCase({ 'bundle.yaml': bundle(`${PLACEHOLDER}/shop/bad:1.0`) });
    const before = registryRequests();
    const result = await c.run('bundle.yaml', ['--dry-run']);
    // Neither image was loaded: the proof fails, having asked the registry.
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('2 of 2 images are not in');
    expect(registryRequests()).toBeGreaterThan(before);
  });
});
