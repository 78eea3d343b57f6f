import { cp, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { useTempDir } from '../support/tmp.ts';

// The config and init commands as a user runs them: exit codes, what is printed and what is written.
const ROOT = resolve(import.meta.dirname, '../..');
const tmp = useTempDir('airgap-config-cli-');
beforeAll(async () => {
  await cp(join(ROOT, 'bundles', 'demo'), join(tmp.path, 'demo'), { recursive: true });
});
describe('airgap config', () => {
  it('prints without -o, writes with it, and names where each file belongs', async () => {
    const printed = await runAirgap(['config', 'skypilot', '--registry', 'reg.example:5000', '--pull-secret', 'airgap-registry']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('- name: "airgap-registry"');
    expect(printed.stderr).toContain('note: the Secret airgap-registry must exist');
    const out = join(tmp.path, 'certs.d');
    const written = await runAirgap(['config', 'containerd', '--registry', 'reg.example:5000', '--mirror-for', 'docker.io', '-o', out]);
    expect(written.code).toBe(0);
    expect(written.stdout).toContain(`wrote ${out}/docker.io/hosts.toml  (belongs at /etc/containerd/certs.d/docker.io/hosts.toml)`);
    const json = JSON.parse((await runAirgap(['config', 'juju', '--registry', 'reg.example:5000', '--juju-version', '3.4.0', '--json'])).stdout) as { kind: string; files: { path: string; content: string }[] };
    expect(json.kind).toBe('juju');
    expect(json.files[0]?.content).toContain('--config caas-image-repo=reg.example:5000/jujusolutions');
  });

  it('a usage error exits 2 with one line: an unknown kind, a flag of another kind, a missing --registry', async () => {
    for (const args of [['config', 'docker', '--registry', 'r.example'], ['config', 'containerd', '--registry', 'r.example', '--tls-cert', 'x'], ['config', 'skypilot']]) {
      const result = await runAirgap(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});

describe('airgap init', () => {
  it('writes airgap.yaml beside the bundle, then refuses to overwrite a changed one without --force', async () => {
    const bundle = join(tmp.path, 'demo', 'bundle.yaml');
    const manifest = join(tmp.path, 'demo', 'airgap.yaml');
    const refused = await runAirgap(['init', bundle]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${manifest} already exists with other content; nothing was written`);
    const before = await readFile(manifest, 'utf8');
    expect(before).toContain('demo-extra');

    const forced = await runAirgap(['init', bundle, '--force', '--release-version', '2.0', '--json']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ output: manifest, outcome: 'written', kind: 'bundle', placeholder: '172.17.0.2:5000', images: 3 });
    expect(await readFile(manifest, 'utf8')).toContain('version: "2.0"');
    const again = await runAirgap(['init', bundle, '--release-version', '2.0']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^unchanged /);
  });

  it('init without a file, or on a file that is no release, is one clear line', async () => {
    const none = await runAirgap(['init']);
    expect(none.code).toBe(2);
    const notes = join(tmp.path, 'notes.yaml');
    await writeFile(notes, 'hello: world\n');
    const wrong = await runAirgap(['init', notes]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: .*notes\.yaml: not a release file/);
  });
});
