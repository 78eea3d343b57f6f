import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAirgap } from '../support/airgap-cli.ts';
import { bcryptHtpasswdLine } from '../support/registry.ts';
import { useTempDir } from '../support/tmp.ts';
import { startServeCli } from './serve-cli.ts';

// The authentication flags of `airgap serve` as an operator meets them: what is refused at start (exit 2, one
// line, no stack trace, no secret), and what the start line says when it serves.
const tmp = useTempDir('airgap-serve-cli-');
let htpasswd: string;

beforeAll(async () => {
  htpasswd = join(tmp.path, 'users');
  await writeFile(htpasswd, `${await bcryptHtpasswdLine('deployer', 'pw')}\n`);
});

describe('airgap serve --htpasswd, --anonymous-pull, --insecure-auth', () => {
  it('refuses --htpasswd over plain HTTP, saying how to serve HTTPS or accept the risk', async () => {
    const refused = await runAirgap(['serve', '--writable', '--htpasswd', htpasswd, '--listen', '127.0.0.1:0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^error: --htpasswd on plain HTTP would send every password across the network in clear .*--tls-cert and --tls-key, or add --insecure-auth/);
  });

  it('refuses --anonymous-pull and --insecure-auth without --htpasswd', async () => {
    for (const flag of ['--anonymous-pull', '--insecure-auth']) {
      const refused = await runAirgap(['serve', '--writable', flag, '--listen', '127.0.0.1:0']);
      expect(refused.code, flag).toBe(2);
      expect(refused.stderr, flag).toBe(`error: ${flag} only means something with --htpasswd FILE\n`);
    }
  });

  it('refuses a users file with a non-bcrypt entry, naming the line and not the hash', async () => {
    const sha1 = join(tmp.path, 'sha1-users');
    await writeFile(sha1, 'old:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n');
    const refused = await runAirgap(['serve', '--writable', '--htpasswd', sha1, '--insecure-auth', '--listen', '127.0.0.1:0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${sha1}:1: the entry of old is not a bcrypt hash`);
    expect(refused.stderr).toContain(`htpasswd -B ${sha1} old`);
    expect(refused.stderr).not.toContain('W6ph5Mm5');
  });

  it('with --insecure-auth serves, and says who may do what', async () => {
    const server = await startServeCli(['--writable', '--htpasswd', htpasswd, '--insecure-auth', '--anonymous-pull']);
    try {
      expect(server.process.logs()).toMatch(new RegExp(`^Serving 0 images at http://\\S+ \\(read-write, users of ${htpasswd.replaceAll('/', '\\/')}, anonymous pull, store `, 'm'));
      expect((await fetch(`${server.url}/v2/_catalog`)).status).toBe(200);
      expect((await fetch(`${server.url}/v2/x/blobs/uploads/`, { method: 'POST' })).status).toBe(401);
    } finally {
      await server.stop();
    }
  });
});
