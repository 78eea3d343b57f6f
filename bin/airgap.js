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
const { main } = await import('../dist/cli.js');
process.exit(await main(process.argv.slice(2)));
