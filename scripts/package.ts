/**
 * `npm run package`: the airgap tool as one executable file per platform, dist/airgap-linux-x64 and
 * dist/airgap-linux-arm64, holding the Node runtime and every dependency (Node's single executable
 * applications), so it can be carried to a machine with no Node, no npm and no network.
 *
 *   node scripts/package.ts [--platform linux-x64|linux-arm64]...
 *
 * Without --platform it builds this machine's platform, and the other Linux architecture when the npm
 * registry has the matching Node (a warning, not a failure, when it cannot be fetched). Runs on the pinned
 * Node 24 (`npm run` puts it first on PATH); the runtime built in is that same version.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs, promisify } from 'node:util';
import { bundleEntry, type BuildInfo } from './sea/bundle.ts';
import { injectBlob, makeBlob } from './sea/inject.ts';
import { pinnedNode, registryNode, SEA_PLATFORMS, type NodeBinary, type SeaPlatform } from './sea/node-binary.ts';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const WORK = join(DIST, 'sea');
const CACHE = join(ROOT, 'node_modules', '.cache', 'airgap-sea');

/** The file `npm run package` writes for `platform`; `airgap collect --include-tool` looks for the same name. */
export function executablePath(platform: SeaPlatform): string {
  return join(DIST, `airgap-${platform}`);
}

/** The commit built from: AIRGAP_COMMIT if set (a source tarball has no .git), else git's, marked when the tree has changes. */
async function commitOf(root: string): Promise<string> {
  const fromEnv = process.env['AIRGAP_COMMIT'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    const { stdout } = await execFileAsync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root });
    const { stdout: changes } = await execFileAsync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root });
    return `${stdout.trim()}${changes.trim() === '' ? '' : '-dirty'}`;
  } catch {
    return 'unknown';
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { platform: { type: 'string', multiple: true } }, allowPositionals: false });
  const asked = values.platform ?? [];
  for (const p of asked) {
    if (!(SEA_PLATFORMS as readonly string[]).includes(p)) {
      process.stderr.write(`error: --platform ${p}: expected one of ${SEA_PLATFORMS.join(', ')}\n`);
      return 2;
    }
  }
  const started = performance.now();
  const host = await pinnedNode(ROOT);
  const platforms = asked.length > 0 ? (asked as SeaPlatform[]) : [host.platform, ...SEA_PLATFORMS.filter((p) => p !== host.platform)];

  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const info: BuildInfo = { version: pkg.version, commit: await commitOf(ROOT) };
  await mkdir(WORK, { recursive: true });
  const bundle = join(WORK, 'airgap.cjs');
  const { bytes } = await bundleEntry(join(ROOT, 'src', 'sea-entry.ts'), bundle, info, host.version.split('.')[0] ?? '24');
  process.stdout.write(`bundled src/sea-entry.ts -> ${relative(ROOT, bundle)} (${mib(bytes)}), airgap ${info.version} (commit ${info.commit})\n`);

  let built = 0;
  for (const platform of platforms) {
    let node: NodeBinary;
    if (platform === host.platform) {
      node = host;
    } else {
      try {
        node = await registryNode(platform, host.version, CACHE);
      } catch (err: unknown) {
        const message = err instanceof Error ? err.message : String(err);
        if (asked.includes(platform)) {
          process.stderr.write(`error: ${platform}: ${message}\n`);
          return 1;
        }
        process.stderr.write(`warning: ${platform} not built: ${message}\n`);
        continue;
      }
    }
    const blob = await makeBlob(host, node, bundle, WORK);
    const output = executablePath(platform);
    await injectBlob(node, blob, output);
    if (node.native) {
      // The one check possible here: it starts, and says what it is.
      const { stdout } = await execFileAsync(output, ['--version'], { env: {} });
      if (!stdout.includes(info.commit)) throw new Error(`${output} --version printed ${JSON.stringify(stdout)}, not the commit ${info.commit}`);
    }
    const size = (await stat(output)).size;
    process.stdout.write(`built ${relative(ROOT, output)}  ${mib(size)}  sha256:${await sha256Of(output)}  (Node ${node.version}${node.native ? ', code cache' : ''})\n`);
    built++;
  }
  process.stdout.write(`${built} executable${built === 1 ? '' : 's'} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return built > 0 ? 0 : 1;
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`error: npm run package: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
