/**
 * The entry of the single executable (`npm run package`, scripts/package.ts): bundled with every dependency
 * into one CommonJS file that Node's single executable application support runs. It does what bin/airgap.js
 * does, without the Node version check (the runtime is the one built in) and without top-level await
 * (CommonJS has none).
 */
import { main } from './cli.ts';
import { formatFailure } from './cli/errors.ts';
import { tuneRuntime } from './runtime-flags.ts';

tuneRuntime();

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // main() turns every failure into an exit code; reaching here is a bug, still reported in one line.
    process.stderr.write(`${formatFailure(err, false)}\n`);
    process.exit(1);
  },
);
