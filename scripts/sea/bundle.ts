/**
 * Step one of the executable: src/sea-entry.ts and every dependency in one CommonJS file, which is what a
 * single executable application runs (its require() loads built-in modules only).
 */
import { readdir, readFile } from 'node:fs/promises';
import { build, type Plugin } from 'esbuild';

export interface BuildInfo {
  version: string;
  commit: string;
}

/**
 * Optional native parts of ssh2 (reached through dockerode -> docker-modem): cpu-features, and its own
 * sshcrypto.node. ssh2 loads both inside try/catch and falls back to pure JavaScript, so they become modules
 * that throw: the bundle then needs nothing from disk, and ssh:// DOCKER_HOST still works, more slowly.
 */
const nativeStubs: Plugin = {
  name: 'airgap-native-stubs',
  setup(b) {
    b.onResolve({ filter: /^cpu-features$|\.node$/ }, (args) => ({ path: args.path, namespace: 'airgap-native-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'airgap-native-stub' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path}: native modules are not part of the airgap executable`)});`,
      loader: 'js',
    }));
  },
};

/** Every file of templates/, by name. */
async function templatesText(): Promise<Record<string, string>> {
  const dir = new URL('../../templates/', import.meta.url);
  const names = (await readdir(dir)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await readFile(new URL(name, dir), 'utf8')] as const)));
}

/** Bundles `entry` into `outfile` (CommonJS, for the Node version given), with version and commit built in. */
export async function bundleEntry(entry: string, outfile: string, info: BuildInfo, nodeVersion: string): Promise<{ bytes: number }> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${nodeVersion}`,
    // src/version.ts reads package.json beside the code when this is absent; the executable has none.
    // import.meta.url has no CommonJS counterpart: it becomes the bundle's own file URL (the executable, in it).
    banner: { js: 'var __airgapImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    // templates/ is not beside the executable: their text is built in (src/config/template.ts).
    define: { AIRGAP_BUILD: JSON.stringify(info), AIRGAP_TEMPLATES: JSON.stringify(await templatesText()), 'import.meta.url': '__airgapImportMetaUrl' },
    plugins: [nativeStubs],
    // Whitespace and syntax only: a third of the size and faster start-up (the runtime scans less source),
    // while names stay as written, so a --debug stack trace still says which function failed.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
  });
  for (const w of result.warnings) process.stderr.write(`warning: esbuild: ${w.text}${w.location === null ? '' : ` (${w.location.file}:${w.location.line})`}\n`);
  const output = Object.values(result.metafile.outputs)[0];
  return { bytes: output?.bytes ?? 0 };
}
