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

/** An image list of `count` references, and the file holding it. */
async function imageList(count: number): Promise<{ file: string; references: string[] }> {
  const dir = await tmp.dir('release');
  const references = Array.from({ length: count }, (_, i) => `registry.example.com/team-${i % 40}/app-${i}:1.${i}`);
  const file = join(dir, 'images.txt');
  await writeFile(file, `${references.join('\n')}\n`);
  return { file, references };
}

describe('a --json document larger than a pipe', () => {
  it('reaches a reader that starts reading only after the command ended, whole', async () => {
    // 3000 images: a --list document of about 600 KB, nine times what a pipe holds.
    const { file, references } = await imageList(3000);
    const out = join(tmp.path, 'listing.json');
    // The reader sleeps before it reads: the command writes its last byte and exits while the pipe is full.
    const script = `"$0" "$1" collect "$2" --list --json --no-juju-images | (sleep 1; cat > "$3")`;
    const result = await runCommand('sh', ['-c', script, process.execPath, AIRGAP_BIN, file, out], { env: { ...process.env } });
    expect(result.code, result.stderr).toBe(0);
    const text = await readFile(out, 'utf8');
    expect(text.length).toBeGreaterThan(9 * 65536);
    const listing = JSON.parse(text) as { images: { reference: string }[] };
    expect(listing.images.map((i) => i.reference)).toEqual(references);
  });
});

describe('a reader that goes away early', () => {
  it('(| head -1) ends the output, not the command: exit 0, no EPIPE trace', async () => {
    const { file } = await imageList(3000);
    // bash's PIPESTATUS gives airgap's own exit code, not head's.
    const script = `"$0" "$1" collect "$2" --list --no-juju-images | head -1; echo "airgap exit $\{PIPESTATUS[0]}" >&2`;
    const result = await runCommand('bash', ['-c', script, process.execPath, AIRGAP_BIN, file], { env: { ...process.env } });
    expect(result.stdout).toBe('images: 3000 images, 0 charms downloaded (nothing pulled, nothing written)\n');
    expect(result.stderr).toBe('airgap exit 0\n');
  });
});
