import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { DOCKER_CLI, startDockerd, type RunningDockerd } from '../support/dockerd.ts';
import { demoImageSet, pushTestImages, type PushedImage } from '../support/images.ts';
import { run } from '../support/process.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { useTempDir } from '../support/tmp.ts';

// `docker load -i images.tar.gz` on a real Docker Engine: the archive is a docker-archive as well as an
// OCI layout, gzip outer stream and compressed layers included.
const tmp = useTempDir('airgap-docker-load-');
let registry: RunningRegistry;
let dockerd: RunningDockerd;
let pushed: PushedImage[];

beforeAll(async () => {
  registry = await startRegistry();
  [pushed, dockerd] = await Promise.all([pushTestImages(registry, demoImageSet()), startDockerd(join(tmp.path, 'd'))]);
});

afterAll(async () => {
  await dockerd?.stop();
  await registry?.stop();
});

async function docker(args: string[]): Promise<string> {
  return (await run(DOCKER_CLI, ['-H', dockerd.host, ...args])).stdout.toString('utf8');
}

describe('docker load of images.tar.gz', () => {
  it('loads every image with its tag and the layers of its config', async () => {
    const dir = join(tmp.path, 'release');
    await mkdir(dir);
    const list = join(dir, 'images.txt');
    await writeFile(list, `${pushed.map((p) => p.reference).join('\n')}\n`);
    const collected = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', registry.host]);
    expect(collected.code).toBe(0);

    const output = await docker(['load', '-i', join(dir, 'out', 'images.tar.gz')]);
    for (const image of pushed) expect(output).toContain(`Loaded image: ${image.reference}`);

    for (const image of pushed) {
      const inspected = JSON.parse(await docker(['image', 'inspect', image.reference])) as { RootFS: { Layers: string[] }; Architecture: string }[];
      // A multi-arch image loads its linux/amd64 entry, never the attestation.
      const loadable = image.manifests.find((m) => !m.attestation && (m.platform === undefined || m.platform.architecture === 'amd64'));
      expect(inspected[0]?.RootFS.Layers, image.reference).toEqual(loadable?.diffIds);
      expect(inspected[0]?.Architecture).toBe('amd64');
    }
  });

  it('loads the parts of --split 1M joined with cat', async () => {
    const dir = join(tmp.path, 'split');
    await mkdir(dir);
    // Large enough for several parts of 1 MB, under names of their own.
    const big = await pushTestImages(registry, demoImageSet(20).map((spec) => ({ ...spec, repository: spec.repository.replace('airgap-test/', 'split-test/') })));
    const list = join(dir, 'images.txt');
    await writeFile(list, `${big.map((p) => p.reference).join('\n')}\n`);
    const collected = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', registry.host, '--split', '1M']);
    expect(collected.code).toBe(0);
    const parts = (await readdir(join(dir, 'out'))).filter((n) => /^images\.tar\.gz\.\d{3}$/.test(n)).sort();
    expect(parts.length).toBeGreaterThan(1);
    // As an operator does it on the offline side: cat images.tar.gz.* > images.tar.gz (the glob sorts the parts).
    await run('sh', ['-c', 'cat images.tar.gz.* > images.tar.gz', 'sh'], { cwd: join(dir, 'out') });
    const output = await docker(['load', '-i', join(dir, 'out', 'images.tar.gz')]);
    for (const image of big) expect(output).toContain(`Loaded image: ${image.reference}`);
  });

  it('loads every inner tar of the --per-image layout', async () => {
    const dir = join(tmp.path, 'per-image');
    await mkdir(dir);
    const list = join(dir, 'images.txt');
    const chosen = pushed.filter((p) => p.repository.endsWith('app-c') || p.repository.endsWith('docker-format'));
    await writeFile(list, `${chosen.map((p) => p.reference).join('\n')}\n`);
    const collected = await runAirgap(['collect', list, '-o', join(dir, 'out'), '--plain-http', registry.host, '--per-image']);
    expect(collected.code).toBe(0);
    await run('tar', ['-xzf', join(dir, 'out', 'images.tar.gz'), '-C', dir]);
    for (const image of chosen) {
      const file = join(dir, `${image.repository.replaceAll('/', '_')}_${image.tag}.tar`);
      const output = await docker(['load', '-i', file]);
      expect(output).toContain(`Loaded image: ${image.reference}`);
    }
  });
});
