/**
 * Steps two and three of the executable, as Node's single executable applications documentation gives them:
 * `node --experimental-sea-config` turns the bundle into a preparation blob, and postject injects the blob
 * into a copy of a Node binary of the same version as a `NODE_SEA_BLOB` ELF note, flipping the fuse.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NodeBinary } from './node-binary.ts';

const execFileAsync = promisify(execFile);

/** The fuse string Node looks for: postject flips its last character to say a blob was injected. */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

interface Postject {
  inject(filename: string, resourceName: string, resourceData: Buffer, options: { sentinelFuse: string; overwrite?: boolean }): Promise<void>;
}

/** The fields of sea-config.json we use (Node 24). */
export interface SeaConfig {
  main: string;
  output: string;
  disableExperimentalSEAWarning: boolean;
  useCodeCache: boolean;
  useSnapshot: boolean;
  execArgvExtension: 'none' | 'env' | 'cli';
}

/**
 * Makes the preparation blob for `bundle` with `generator` (a Node of the target's version that runs here).
 * The code cache is V8 code compiled on this machine: only for a target of this machine's architecture
 * (Node's documentation: set useCodeCache and useSnapshot to false for a cross-platform executable).
 */
export async function makeBlob(generator: NodeBinary, target: NodeBinary, bundle: string, workDir: string): Promise<string> {
  if (generator.version !== target.version) throw new Error(`the blob must be made by Node ${target.version}, not ${generator.version}`);
  const config: SeaConfig = {
    main: bundle,
    output: join(workDir, `airgap-${target.platform}.blob`),
    disableExperimentalSEAWarning: true,
    useCodeCache: target.native,
    // Tried: Node 24's snapshot builder stops on handles that node:http, node:http2 and node:child_process
    // make at load ("global handle not serialized"). The code cache halves start-up without that constraint.
    useSnapshot: false,
    // The same program wherever it lands: a NODE_OPTIONS set on that machine for something else (a --require
    // hook, a bad flag) must not change or stop it.
    execArgvExtension: 'none',
  };
  const configPath = join(workDir, `sea-config-${target.platform}.json`);
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  await execFileAsync(generator.path, ['--experimental-sea-config', configPath], { cwd: workDir, env: { ...process.env, NODE_OPTIONS: '' } });
  return config.output;
}

/**
 * postject's ELF library reports "Can't find string offset for section name '.note.100'" a dozen times per
 * injection; Node's documentation shows the same lines as expected and harmless. Anything else still shows.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === 'string' && args[0].startsWith("warning: Can't find string offset for section name")) return;
    warn(...args);
  };
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}

/** Copies `node` to `output` and injects `blob`: under a temporary name, renamed once it is whole. */
export async function injectBlob(node: NodeBinary, blob: string, output: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const postject = require('postject') as Postject;
  const temp = `${output}.partial-${process.pid}`;
  try {
    await copyFile(node.path, temp);
    await chmod(temp, 0o755);
    const data = await readFile(blob);
    await quietly(() => postject.inject(temp, 'NODE_SEA_BLOB', data, { sentinelFuse: SEA_FUSE }));
    await rename(temp, output);
  } catch (err: unknown) {
    await rm(temp, { force: true });
    throw err;
  }
}
