/**
 * `npm run demo [-- --no-build]`: the whole chain on a fresh machine, offline, with no server but airgap's own.
 *
 *   1. generate a small release: the shipped demo (bundles/demo: a Juju bundle with placeholder images, an extra
 *      charm, a Kubernetes manifest) and its images (layers shared, a multi-arch index, a Docker-format image),
 *      written as an OCI layout without any registry or skopeo;
 *   2. `airgap serve` that layout on loopback as the "upstream" registry (plain HTTP);
 *   3. `airgap collect` the release from it: images.tar.gz, charms.tar.gz, airgap-lock.json;
 *   4. make a CA (openssl) and `airgap serve --writable` an EMPTY registry over HTTPS as the "private" one;
 *   5. `airgap load` into it with --ca-file, then check every tag's digest there against the lock;
 *   6. `airgap deploy --dry-run` against it: every rewrite and every Juju command, nothing changed.
 *
 * Exits non-zero if any step fails; both servers are stopped whatever happens. Everything is in ./demo-out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeCertificateAuthority } from '../test/support/ca.ts';
import { buildOciLayout, demoImageSet } from '../test/support/images.ts';

const ROOT = resolve(import.meta.dirname, '..');
const WORK = join(ROOT, 'demo-out');
const CLI = join(ROOT, 'bin', 'airgap.js');
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

class StepFailed extends Error {}

let stepNumber = 0;
function step(title: string): void {
  stepNumber++;
  console.log(`\n== ${stepNumber}. ${title}`);
}

const show = (path: string): string => relative(process.cwd(), path) || '.';

/** Run the CLI as a user does; its output goes straight to ours. */
function airgap(args: string[]): Promise<void> {
  console.log(`$ airgap ${args.join(' ')}`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'inherit', 'inherit'], cwd: WORK });
    child.on('error', fail);
    child.on('close', (code, signal) => (code === 0 ? done() : fail(new StepFailed(`airgap ${args[0] ?? ''} failed (exit ${code ?? signal ?? '?'})`))));
  });
}

interface Served {
  url: string;
  host: string;
  stop(): Promise<void>;
}

const servers: ChildProcess[] = [];

/**
 * `airgap serve ... --listen 127.0.0.1:0` in the background: the port it picked is read from its first line,
 * its request log goes to `logFile`.
 */
function serve(args: string[], logFile: string): Promise<Served> {
  const full = ['serve', ...args, '--listen', '127.0.0.1:0'];
  console.log(`$ airgap ${full.join(' ')} > ${show(logFile)} &`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [CLI, ...full], { stdio: ['ignore', 'pipe', 'pipe'], cwd: WORK });
  servers.push(child);
  let stderr = '';
  let stdout = '';
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    log.end();
  };
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new StepFailed(`airgap serve did not start within 60 s:\n${stderr}`)), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      log.write(chunk);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stdout += chunk.toString('utf8');
      const match = /^Serving (\d+) images at (https?:\/\/(\S+)) /m.exec(stdout);
      if (match !== null && match[2] !== undefined && match[3] !== undefined) {
        clearTimeout(timer);
        stdout = '';
        console.log(`   serving ${match[1]} images at ${match[2]}`);
        done({ url: match[2], host: match[3], stop });
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      fail(new StepFailed(`airgap serve exited (code ${code ?? '?'}) before it was ready:\n${stderr.trim()}`));
    });
  });
}

/** The digest the private registry serves for a tag, fetched over HTTPS trusting only the demo's CA. */
function servedDigest(url: string, repository: string, tag: string, ca: Buffer): Promise<string> {
  return new Promise((done, fail) => {
    const req = request(`${url}/v2/${repository}/manifests/${tag}`, { ca, headers: { accept: MANIFEST_TYPES } }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (chunk: Buffer) => hash.update(chunk));
      res.on('end', () => (res.statusCode === 200 ? done(`sha256:${hash.digest('hex')}`) : fail(new StepFailed(`${repository}:${tag}: the private registry answered ${res.statusCode}`))));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}

interface LockImage {
  reference: string;
  path: string;
  digest: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'no-build': { type: 'boolean', default: false } }, strict: true });
  if (!values['no-build']) {
    console.log('building the CLI (tsc -p tsconfig.build.json)');
    try {
      execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    } catch {
      throw new StepFailed('the CLI does not build (errors above)');
    }
  }
  await rm(WORK, { recursive: true, force: true });
  process.chdir(ROOT);

  step('generate a small release: the demo bundle, charms, a Kubernetes manifest, and its images');
  const release = join(WORK, 'release');
  await cp(join(ROOT, 'bundles', 'demo'), release, { recursive: true });
  const layout = join(WORK, 'upstream-layout');
  const images = await buildOciLayout(layout, demoImageSet(8));
  for (const image of images) {
    const bytes = Object.values(image.sizes).reduce((a, b) => a + b, 0);
    console.log(`   ${image.repository}:${image.tag}  ${image.digest.slice(0, 19)}…  ${image.manifests.length > 1 ? `index of ${image.manifests.length} manifests, ` : ''}${(bytes / 1e6).toFixed(2)} MB`);
  }
  console.log(`   release in ${show(release)}, images as an OCI layout in ${show(layout)}`);

  step('serve the images as the "upstream" registry (plain HTTP, read-only)');
  const upstream = await serve([layout], join(WORK, 'upstream.log'));

  step('collect the release from it (the online side)');
  const manifest = join(release, 'airgap.yaml');
  // The shipped release pulls its placeholder images from 127.0.0.1:5000: point it at the port we got.
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('127.0.0.1:5000', upstream.host));
  // Juju's own images live on docker.io: the demo never leaves this machine, so it carries none of them.
  await airgap(['collect', 'release/airgap.yaml', '-o', 'carried', '--plain-http', upstream.host, '--cache', 'cache', '--no-juju-images']);
  await upstream.stop();
  console.log('   upstream registry stopped: from here on, only the three carried files are used');

  step('make a CA and serve an EMPTY private registry over HTTPS (writable)');
  const ca = await makeCertificateAuthority(join(WORK, 'ca'), { commonName: 'airgap demo CA' });
  console.log(`   CA ${show(ca.caFile)}, server certificate for localhost and 127.0.0.1 signed by it`);
  const privateRegistry = await serve(['--writable', '--store', 'private-store', '--tls-cert', ca.certFile, '--tls-key', ca.keyFile], join(WORK, 'private.log'));

  step('load the carried images into the private registry (the offline side)');
  await airgap(['load', 'carried', '--registry', privateRegistry.host, '--ca-file', ca.caFile, '--charms-dir', 'offline/charms']);
  const lock = JSON.parse(await readFile(join(WORK, 'carried', 'airgap-lock.json'), 'utf8')) as { images: LockImage[] };
  const caBytes = await readFile(ca.caFile);
  for (const image of lock.images) {
    const colon = image.path.lastIndexOf(':');
    const served = await servedDigest(privateRegistry.url, image.path.slice(0, colon), image.path.slice(colon + 1), caBytes);
    if (served !== image.digest) throw new StepFailed(`${image.path}: the private registry serves ${served}, the lock says ${image.digest}`);
    console.log(`   ${privateRegistry.host}/${image.path} = ${image.digest.slice(0, 19)}… as in the lock`);
  }

  step('deploy --dry-run against the private registry: every rewrite and Juju command, nothing changed');
  await airgap([
    'deploy', 'offline/charms/airgap.yaml', '--registry', privateRegistry.host, '--ca-file', ca.caFile,
    '--charms-dir', 'offline/charms', '--lock', 'carried/airgap-lock.json', '--dry-run',
  ]);
  await privateRegistry.stop();
  console.log(`\nDone: the whole chain ran offline against airgap's own registries. Files: ${show(WORK)} (carried/ is what crosses the air gap; *.log are the registries' request logs)`);
}

try {
  await main();
} catch (err: unknown) {
  const message = err instanceof StepFailed ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`\ndemo failed at step ${stepNumber}: ${message}\n`);
  process.exitCode = 1;
} finally {
  for (const child of servers) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}
