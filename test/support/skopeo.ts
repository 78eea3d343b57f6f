/**
 * skopeo, the independent client: it pushes what the tests serve and reads back what our code wrote, so a
 * test never checks our code against itself.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './process.ts';
import type { RunResult } from './process.ts';
import { makeTempDir } from './tmp.ts';

export const SKOPEO_BINARY = 'skopeo';

/** How to reach a registry: its CA (HTTPS verified), credentials (htpasswd), or neither. */
export interface RegistryAccess {
  /** The CA certificate that signed the registry's certificate. */
  caFile?: string;
  username?: string;
  password?: string;
  /**
   * Verify TLS. Default: true when caFile is given, else false (skopeo then tries HTTPS without checking the
   * certificate, then plain HTTP, which is what a loopback test registry without TLS needs).
   */
  tlsVerify?: boolean;
}

/**
 * skopeo takes a directory of certificates, not a file, and reads every *.key in it as a client key: so a CA
 * file gets a directory of its own, inside `parent`, holding only `ca.crt`.
 */
async function certDirFor(caFile: string, parent: string): Promise<string> {
  const dir = await mkdtemp(join(parent, 'certs-'));
  await copyFile(caFile, join(dir, 'ca.crt'));
  return dir;
}

/**
 * The TLS and credential flags for one side of a skopeo command: `side` is '' for inspect, 'src-' or 'dest-'
 * for copy. A CA needs a certificate directory: it is made inside `workDir`, which the caller removes.
 */
export async function skopeoAccessArgs(side: '' | 'src-' | 'dest-', access: RegistryAccess, workDir: string): Promise<string[]> {
  const args: string[] = [];
  const verify = access.tlsVerify ?? access.caFile !== undefined;
  args.push(`--${side}tls-verify=${verify ? 'true' : 'false'}`);
  if (access.caFile !== undefined) args.push(`--${side}cert-dir`, await certDirFor(access.caFile, workDir));
  if (access.username !== undefined) {
    args.push(`--${side}creds`, `${access.username}:${access.password ?? ''}`);
  } else {
    // Anonymous means anonymous: no credentials picked up from ~/.docker/config.json or auth.json.
    args.push(`--${side}no-creds`);
  }
  return args;
}

/** Runs skopeo without a signature policy file (the test images are unsigned and the machine's policy may differ). */
export function skopeo(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run(SKOPEO_BINARY, ['--insecure-policy', ...args], { timeoutMs: options.timeoutMs ?? 300_000 });
}

/**
 * The manifest or index bytes exactly as the registry serves them, for `HOST/REPO:TAG` or `HOST/REPO@DIGEST`.
 */
export async function inspectRaw(reference: string, access: RegistryAccess = {}): Promise<Buffer> {
  const work = await makeTempDir('airgap-skopeo-');
  try {
    const { stdout } = await skopeo(['inspect', '--raw', ...(await skopeoAccessArgs('', access, work.path)), `docker://${reference}`]);
    return stdout;
  } finally {
    await work.remove();
  }
}

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
