import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkJuju } from '../../src/check/juju.ts';
import { useTempDir } from '../support/tmp.ts';

// Against the stand-in juju (test/stand-ins/README.md): no Juju controller can run here.
const JUJU = resolve(import.meta.dirname, '../stand-ins/juju');
const tmp = useTempDir('airgap-check-juju-');
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await mkdir(tmp.path, { recursive: true });
  await writeFile(join(tmp.path, 'state.json'), JSON.stringify({ model: 'kubeflow' }));
  env = { ...process.env, JUJU_STANDIN_STATE: join(tmp.path, 'state.json') };
});

describe('checkJuju', () => {
  it('finds juju, its version, the controller and the model', async () => {
    const results = await checkJuju({ jujuPath: JUJU, model: 'kubeflow', env });
    expect(results.map((r) => [r.status, r.what])).toEqual([['ok', 'juju found'], ['ok', 'controller reachable'], ['ok', 'model']]);
    expect(results[0]?.detail).toBe(`${JUJU} 3.4.0-genericlinux-amd64`);
    expect(results[2]?.detail).toBe('model kubeflow (caas, 0 applications)');
  });

  it('with --registry, says whether the controller takes Juju\'s images from it (caas-image-repo)', async () => {
    const unset = await checkJuju({ jujuPath: JUJU, model: 'kubeflow', registry: 'reg:5000', env });
    expect(unset.at(-1)).toMatchObject({ status: 'warn', what: 'caas-image-repo', detail: expect.stringContaining('caas-image-repo is not set') });
    expect(unset.at(-1)?.fix).toContain('--config caas-image-repo=reg:5000/jujusolutions');
    const set = await checkJuju({ jujuPath: JUJU, model: 'kubeflow', registry: 'reg:5000', env: { ...env, JUJU_STANDIN_CONTROLLER_CONFIG: '{"caas-image-repo":"reg:5000/jujusolutions"}' } });
    expect(set.at(-1)).toMatchObject({ status: 'ok', what: 'caas-image-repo' });
  });

  it('a model that does not exist fails with the command to create it', async () => {
    const results = await checkJuju({ jujuPath: JUJU, model: 'nope', env });
    expect(results.at(-1)).toMatchObject({ status: 'fail', what: 'model', fix: 'create it with juju add-model nope, or pass -m with an existing model' });
  });

  it('no juju on PATH is a warning; a --juju that is not there is a failure', async () => {
    const onPath = await checkJuju({ env: { ...env, PATH: tmp.path } });
    expect(onPath).toEqual([expect.objectContaining({ status: 'warn', what: 'juju found' })]);
    const given = await checkJuju({ jujuPath: join(tmp.path, 'juju'), env });
    expect(given).toEqual([expect.objectContaining({ status: 'fail', what: 'juju found' })]);
  });

  it('a juju status that fails names the controller', async () => {
    const results = await checkJuju({ jujuPath: JUJU, env: { ...env, JUJU_STANDIN_STATE: '' } });
    expect(results.at(-1)).toMatchObject({ status: 'fail', what: 'controller reachable' });
    expect(results.at(-1)?.detail).toContain('JUJU_STANDIN_STATE is not set');
  });
});
