/**
 * `npm run demo`: the main job on a fresh machine, offline. Starts Debian's docker-registry on loopback
 * as the "upstream", fills it with generated images (pushed by skopeo), points the shipped demo release
 * (bundles/demo) at it, and runs the real `airgap collect` on it.
 */
import { spawn } from 'node:child_process';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { demoImageSet, pushTestImages } from '../test/support/images.ts';
import { startRegistry } from '../test/support/registry.ts';

const root = resolve(import.meta.dirname, '..');
const work = join(root, 'demo-out');

function airgap(args: string[]): Promise<number> {
  console.log(`\n$ airgap ${args.join(' ')}`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'airgap.js'), ...args], { stdio: 'inherit', cwd: work });
    child.on('error', fail);
    child.on('close', (code) => done(code ?? 1));
  });
}

await rm(work, { recursive: true, force: true });
await cp(join(root, 'bundles', 'demo'), join(work, 'release'), { recursive: true });
console.log('starting docker-registry on loopback as the upstream registry');
const upstream = await startRegistry();
let code = 1;
try {
  const pushed = await pushTestImages(upstream, demoImageSet(8));
  console.log(`pushed ${pushed.length} generated images to ${upstream.host} with skopeo`);
  const manifest = join(work, 'release', 'airgap.yaml');
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('127.0.0.1:5000', upstream.host));
  code = await airgap(['collect', 'release/airgap.yaml', '-o', 'out', '--plain-http', upstream.host]);
  if (code === 0) console.log(`\nThe three files to carry across the air gap are in ${join(work, 'out')}`);
} finally {
  await upstream.stop();
}
process.exitCode = code;
