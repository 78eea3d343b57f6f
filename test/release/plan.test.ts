import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReleaseFileError } from '../../src/errors.ts';
import { loadRelease, planImages } from '../../src/release/index.ts';
import type { PlannedImage } from '../../src/release/index.ts';
import { useTempDir } from '../support/tmp.ts';

const P = '172.17.0.2:5000';
const tmp = useTempDir('airgap-plan-');

async function plan(airgap: string): Promise<{ file: string; planned: () => PlannedImage[] }> {
  const file = path.join(await tmp.files('plan', { 'airgap.yaml': airgap }), 'airgap.yaml');
  const release = await loadRelease(file);
  return { file, planned: () => planImages(release) };
}

describe('planImages', () => {
  it('pulls a placeholder image from the longest matching upstream prefix, others from themselves', async () => {
    const { planned } = await plan(`placeholder: ${P}
upstream:
  "*": docker.io
  ml-pipeline/: gcr.io
  ml-pipeline/frontend: quay.io/mirror
  ml: ghcr.io
images:
  - ${P}/python:3.7
  - ${P}/ml-pipeline/visualization-server:2.0.0-alpha.7
  - ${P}/ml-pipeline/frontend:2.0.0-alpha.7
  - ${P}/mlflow/server
  - quay.io/metallb/speaker:v0.13.3
  - busybox:1.28
  - ${P}/x/y@sha256:${'ab'.repeat(32)}
`);
    expect(planned().map((p) => [p.written, p.upstream, p.path])).toEqual([
      [`${P}/python:3.7`, 'docker.io/library/python:3.7', 'python:3.7'],
      [`${P}/ml-pipeline/visualization-server:2.0.0-alpha.7`, 'gcr.io/ml-pipeline/visualization-server:2.0.0-alpha.7', 'ml-pipeline/visualization-server:2.0.0-alpha.7'],
      [`${P}/ml-pipeline/frontend:2.0.0-alpha.7`, 'quay.io/mirror/ml-pipeline/frontend:2.0.0-alpha.7', 'ml-pipeline/frontend:2.0.0-alpha.7'],
      [`${P}/mlflow/server`, 'ghcr.io/mlflow/server:latest', 'mlflow/server:latest'],
      ['quay.io/metallb/speaker:v0.13.3', 'quay.io/metallb/speaker:v0.13.3', 'metallb/speaker:v0.13.3'],
      ['busybox:1.28', 'docker.io/library/busybox:1.28', 'busybox:1.28'],
      [`${P}/x/y@sha256:${'ab'.repeat(32)}`, `docker.io/x/y@sha256:${'ab'.repeat(32)}`, `x/y@sha256:${'ab'.repeat(32)}`],
    ]);
  });

  it('keeps images distinct by how they are written, in first-mention order, with all their mentions', async () => {
    const { file, planned } = await plan(`placeholder: ${P}\nupstream: { "*": docker.io }\nimages: [${P}/b:1, ${P}/a:1, ${P}/b:1, docker.io/a:1]\n`);
    expect(planned().map((p) => [p.written, p.mentions.map((m) => m.yamlPath)])).toEqual([
      [`${P}/b:1`, ['images[0]', 'images[2]']],
      [`${P}/a:1`, ['images[1]']],
      // Same path and same upstream as the placeholder spelling: the same image, not a conflict.
      ['docker.io/a:1', ['images[3]']],
    ]);
    expect(planned()[0]?.mentions[0]).toEqual({ reference: `${P}/b:1`, file, yamlPath: 'images[0]', line: 3 });
  });

  it('refuses a placeholder image no upstream entry covers, naming it, its line and the fix', async () => {
    const { file, planned } = await plan(`placeholder: ${P}\nupstream:\n  kubeflow/: gcr.io\nimages:\n  - ${P}/kubeflow/x:1\n  - ${P}/istio/pilot:1.16.2\n`);
    const error = ((): unknown => {
      try {
        return planned();
      } catch (err: unknown) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ReleaseFileError);
    expect(error).toMatchObject({ file, line: 6, message: expect.stringMatching(/172\.17\.0\.2:5000\/istio\/pilot:1\.16\.2 \(images\[1\]\) is under the placeholder 172\.17\.0\.2:5000, but no upstream: entry says where to pull istio\/pilot from/) });
    expect((error as ReleaseFileError).message).toContain(`${file}:6: `);
    expect((error as ReleaseFileError).hint).toMatch(/upstream: \{ "istio\/": REGISTRY \} or a default "\*": docker\.io/);
  });

  it('refuses two different images at one path, naming both and where each is mentioned', async () => {
    const { file, planned } = await plan(`placeholder: ${P}\nupstream: { "*": docker.io }\nimages:\n  - ${P}/metallb/speaker:v0.13.3\n  - quay.io/metallb/speaker:v0.13.3\n`);
    expect(planned).toThrow(ReleaseFileError);
    expect(planned).toThrow(
      `${file}:5: two different images would both live at metallb/speaker:v0.13.3 in the private registry: ` +
        `${P}/metallb/speaker:v0.13.3 (pulled from docker.io/metallb/speaker:v0.13.3; at ${file}:4 images[0]) and ` +
        `quay.io/metallb/speaker:v0.13.3 (pulled from quay.io/metallb/speaker:v0.13.3; at ${file}:5 images[1])`,
    );
  });
});
