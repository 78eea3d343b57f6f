/**
 * src/runtime-flags.ts keeps V8's young generation at its starting size, which is what keeps airgap's memory
 * flat on long streams (see its comment for the bench numbers). The setting is made at run time, which V8
 * honours for this flag only because it reads it each time it would grow the space: a Node upgrade that
 * froze V8's flags after start-up, or read this one once, would silently undo it. This test says so.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AIRGAP_BIN } from '../support/airgap-cli.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-runtime-flags-');
const RUNTIME_FLAGS = pathToFileURL(resolve(import.meta.dirname, '../../dist/runtime-flags.js')).href;

/**
 * JavaScript that churns objects which survive a collection or two (so V8 grows its young generation if it
 * may), then evaluates to the young generation's size. Needs `v8` (node:v8) in scope.
 */
const CHURN = `(() => {
  let kept = [];
  for (let i = 0; i < 400000; i++) {
    kept.push({ i, s: 'x' + i, a: [i, i] });
    if (kept.length > 20000) kept = kept.slice(10000);
  }
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
})()`;

/** The young generation's size after the churn, in a Node of its own, with or without tuneRuntime() first. */
async function youngGenerationAfterChurn(tuned: boolean): Promise<number> {
  const script = `
    import v8 from 'node:v8';
    if (${tuned}) (await import(${JSON.stringify(RUNTIME_FLAGS)})).tuneRuntime();
    process.stdout.write(String(${CHURN}));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  return Number(stdout);
}

describe('tuneRuntime', () => {
  it('keeps the young generation at its starting size where V8 would grow it', async () => {
    const [plain, tuned] = await Promise.all([youngGenerationAfterChurn(false), youngGenerationAfterChurn(true)]);
    // Untuned, V8 grows it (to 32 MiB on Node 24); tuned, it stays at the start size (2 MiB).
    expect(plain).toBeGreaterThanOrEqual(4 * tuned);
    expect(tuned).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  it('is applied by bin/airgap.js before the command runs', async () => {
    // A probe loaded before bin/airgap.js churns once the command is done, and tells the young generation's size.
    const probe = join(tmp.path, 'probe.mjs');
    await writeFile(probe, `
      import v8 from 'node:v8';
      process.on('exit', () => process.stderr.write('young generation ' + ${CHURN} + '\\n'));
    `);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', pathToFileURL(probe).href, AIRGAP_BIN, '--version']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const size = Number(/young generation (\d+)/.exec(stderr)?.[1]);
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
