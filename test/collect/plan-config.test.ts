/**
 * airgap.yaml's `config:` in a collect's plan: it goes into the bundle generated from a stock one, and only
 * there; the generated airgap.yaml that travels beside that bundle does not set it a second time.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { planCollect } from '../../src/collect/plan.ts';
import { ReleaseFileError } from '../../src/errors.ts';
import { generateAirgapManifest } from '../../src/release/airgap-manifest.ts';
import { loadRelease } from '../../src/release/index.ts';
import { writeTestCharm } from '../support/charm.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-plan-config-');
const CONFIG = 'config:\n  app:\n    custom_images: |\n      controller: gcr.io/k/controller:1.0\n';

describe('config: in the plan of a collect', () => {
  it('is refused, at its line, for a bundle of local charm files: that bundle is deployed as written', async () => {
    const dir = await tmp.dir('local');
    await writeTestCharm(join(dir, 'app_r1.charm'), 'app', {});
    await writeFile(join(dir, 'bundle.yaml'), 'bundle: kubernetes\napplications:\n  app:\n    charm: ./app_r1.charm\n');
    const file = join(dir, 'airgap.yaml');
    await writeFile(file, `name: r\nbundle: bundle.yaml\n${CONFIG}`);
    const error = await planCollect({ release: file, registriesConf: join(tmp.path, 'none.conf') }, await tmp.dir('work')).then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(ReleaseFileError);
    expect((error as ReleaseFileError).message).toBe(`${file}:5: config: sets options in the air-gapped bundle collect generates from a stock one, but bundle.yaml names no Charmhub charm`);
    expect((error as ReleaseFileError).hint).toMatch(/write the options into the bundle itself/);
  });

  it('is left out of the generated airgap.yaml, which names the generated bundle holding it', async () => {
    const dir = await tmp.dir('stock');
    await writeFile(join(dir, 'bundle.yaml'), 'bundle: kubernetes\napplications:\n  app:\n    charm: app\n    channel: latest/stable\n');
    const file = join(dir, 'airgap.yaml');
    const text = `name: r\nversion: "1"\nbundle: bundle.yaml\n${CONFIG}`;
    await writeFile(file, text);
    const release = await loadRelease(file);
    const generated = parseYaml(generateAirgapManifest(release, text, 'reg.airgap.invalid')) as Record<string, unknown>;
    expect(generated).toEqual({ name: 'r', version: '1', bundle: 'bundle-airgap.yaml', placeholder: 'reg.airgap.invalid' });
  });
});
