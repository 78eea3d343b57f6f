#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm run build`, and by `prepare` on `npm ci`).
// This file is the only place that exits the process: the code below it returns an exit code.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `error: airgap needs Node.js 22 or later, this is ${process.version} ` +
      '(inside the project run `npx airgap`, which uses the pinned Node 24)\n',
  );
  process.exit(1);
}
// Node keeps the code it compiled for dist/ and the libraries between runs (in NODE_COMPILE_CACHE, else a
// directory under the system's temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off): a short command such
// as `airgap deploy --dry-run` starts about a fifth sooner. A cache it cannot write is ignored.
const { default: nodeModule } = await import('node:module');
nodeModule.enableCompileCache?.();
// Before any command runs: V8 settings that keep memory flat on long streams (src/runtime-flags.ts).
const { tuneRuntime } = await import('../dist/runtime-flags.js');
tuneRuntime();
const { main } = await import('../dist/cli.js');
process.exit(await main(process.argv.slice(2)));
