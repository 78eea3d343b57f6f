/**
 * Output into a pipe whose reader takes its time: `airgap ... --json | jq`, or a script that reads only once the
 * command ended. A pipe holds 64 KiB; the rest of a larger document waits in the process, and must reach the
 * reader before the process exits.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AIRGAP_BIN, runCommand } from '../support/airgap-cli.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-pipe-');

describe('a --json document larger than a pipe', () => {
  it('reaches a reader that starts reading only after the command ended, whole', async () => {
    const dir = await tmp.dir('release');
    // 3000 images: a --list document of about 600 KB, nine times what a pipe holds.
    const references = Array.from({ length: 3000 }, (_, i) => `registry.example.com/team-${i % 40}/app-${i}:1.${i}`);
    await writeFile(join(dir, 'images.txt'), `${references.join('\n')}\n`);
    const out = join(dir, 'listing.json');
    // The reader sleeps before it reads: the command writes its last byte and exits while the pipe is full.
    const script = `"$0" "$1" collect "$2" --list --json --no-juju-images | (sleep 1; cat > "$3")`;
    const result = await runCommand('sh', ['-c', script, process.execPath, AIRGAP_BIN, join(dir, 'images.txt'), out], { env: { ...process.env } });
    expect(result.code, result.stderr).toBe(0);
    const text = await readFile(out, 'utf8');
    expect(text.length).toBeGreaterThan(9 * 65536);
    const listing = JSON.parse(text) as { images: { reference: string }[] };
    expect(listing.images.map((i) => i.reference)).toEqual(references);
  });
});
