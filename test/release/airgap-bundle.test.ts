/** The generated air-gapped bundle's part of airgap.yaml's `config:`: each option set, only its images moved. */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ReleaseFileError } from '../../src/errors.ts';
import { generateAirgapBundle, type CarriedCharm } from '../../src/release/airgap-bundle.ts';
import type { BundleOptionSetting } from '../../src/release/types.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const STOCK = [
  'bundle: kubernetes',
  'applications:',
  '  knative-serving:',
  '    charm: knative-serving',
  '    channel: 1.10/stable',
  '    scale: 1',
  '  knative-eventing:',
  '    charm: knative-eventing',
  '    channel: 1.10/stable',
  '    options:',
  '      namespace: knative-eventing',
  '      custom_images: "{}"',
  '',
].join('\n');

function carried(name: string): CarriedCharm {
  return { applications: [name], charm: name, channel: '1.10/stable', revision: 1, file: `${name}_r1.charm`, scan: { file: `${name}_r1.charm`, name, resources: [], options: [], images: [], hubs: [] } };
}

function setting(application: string, option: string, value: string | number | boolean, line = 7): BundleOptionSetting {
  return { application, option, value, file: '/r/airgap.yaml', line };
}

function generate(options: BundleOptionSetting[], ignore: string[] = []): { applications: Record<string, { charm: string; options?: Record<string, unknown> }> } {
  const bundle = generateAirgapBundle({ file: '/r/bundle.yaml', text: STOCK, charms: [carried('knative-serving'), carried('knative-eventing')], placeholder: 'reg.airgap.invalid', ignore, options });
  return parseYaml(bundle.text) as ReturnType<typeof generate>;
}

describe('airgap.yaml config: in the generated bundle', () => {
  it('sets each option, its images on the placeholder and the text around them as written', () => {
    const images = `activator: gcr.io/knative-releases/knative.dev/serving/cmd/activator@${DIGEST}\nqueue-proxy: ''\n`;
    const bundle = generate([setting('knative-serving', 'custom_images', images), setting('knative-serving', 'replicas', 2)]);
    expect(bundle.applications['knative-serving']?.options).toEqual({
      custom_images: `activator: reg.airgap.invalid/knative-releases/knative.dev/serving/cmd/activator@${DIGEST}\nqueue-proxy: ''\n`,
      replicas: 2,
    });
    expect(bundle.applications['knative-serving']?.charm).toBe('./knative-serving_r1.charm');
  });

  it('wins over the stock bundle\'s own value, and keeps its other options', () => {
    const bundle = generate([setting('knative-eventing', 'custom_images', `{"eventing-controller/eventing-controller": "gcr.io/e/controller@${DIGEST}"}`)]);
    expect(bundle.applications['knative-eventing']?.options).toEqual({
      namespace: 'knative-eventing',
      custom_images: `{"eventing-controller/eventing-controller": "reg.airgap.invalid/e/controller@${DIGEST}"}`,
    });
  });

  it('leaves an ignored string where it is', () => {
    const bundle = generate([setting('knative-serving', 'hub', 'gcr.io/knative-releases/x:1')], ['gcr.io/knative-releases/x:1']);
    expect(bundle.applications['knative-serving']?.options).toEqual({ hub: 'gcr.io/knative-releases/x:1' });
  });

  it('refuses an application the bundle does not have, at its line, with the nearest name', () => {
    let error: unknown;
    try {
      generate([setting('knative-servin', 'custom_images', '', 12)]);
    } catch (err: unknown) {
      error = err;
    }
    expect(error).toBeInstanceOf(ReleaseFileError);
    expect((error as ReleaseFileError).message).toBe('/r/airgap.yaml:12: config.knative-servin: bundle.yaml has no application knative-servin');
    expect((error as ReleaseFileError).hint).toBe('did you mean knative-serving?');
  });
});
