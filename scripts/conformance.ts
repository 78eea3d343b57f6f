/**
 * `npm run conformance [-- --only http|https --cli PATH --no-auth --no-build --if-present]`: the OCI
 * distribution-spec conformance suite (opencontainers/distribution-spec, `conformance/`) against
 * `airgap serve --writable`, over plain HTTP and over HTTPS (a CA made for the run, trusted by the suite through
 * SSL_CERT_FILE), each on a fresh store. Over HTTPS the server also asks for a user (`--htpasswd`, a bcrypt line
 * made by `htpasswd -B`), so the suite's every request answers the basic-auth challenge.
 *
 * The repository does not ship the suite (a Go program): it comes from $OCI_CONFORMANCE, else
 * `../shared/tools/oci-conformance/conformance` beside this checkout or beside the main checkout of its git
 * repository. Every optional API the server offers is switched on (upload cancel, digest headers, tag
 * parameters); sparse manifests stay off, since serve refuses a manifest whose blobs it does not have, as the
 * spec lets a registry do. Prints one table (category by HTTP and HTTPS), writes each run's results under
 * .conformance/, and exits 1 when any category fails or errs.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeCertificateAuthority } from '../test/support/ca.ts';
import { startManagedProcess } from '../test/support/process.ts';
import { sleep } from '../src/util/sleep.ts';
import { bcryptHtpasswdLine } from '../test/support/registry.ts';
import { makeTempDir } from '../test/support/tmp.ts';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, '.conformance');
const MODES = ['http', 'https'] as const;
type Mode = (typeof MODES)[number];

const HOW_TO_GET = `build it from opencontainers/distribution-spec (conformance/: \`go build -o conformance .\`, Go 1.24; or see its README for a container image) and set OCI_CONFORMANCE=/path/to/conformance`;

const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** Where the suite's binary is, or undefined. */
function findSuite(): string | undefined {
  const fromEnv = process.env['OCI_CONFORMANCE'];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) throw new Error(`OCI_CONFORMANCE=${fromEnv}: no such file (${HOW_TO_GET})`);
    return resolve(fromEnv);
  }
  const roots = [ROOT];
  try {
    // A worktree's main checkout: the directory that holds the repository's common .git.
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: ROOT, encoding: 'utf8' }).trim();
    roots.push(dirname(common));
  } catch {
    // Not a git checkout: only this directory's neighbour.
  }
  for (const root of roots) {
    const candidate = resolve(root, '..', 'shared', 'tools', 'oci-conformance', 'conformance');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

interface Summary {
  /** category -> Pass, FAIL, Skip, Disabled, Error */
  categories: Map<string, string>;
  totals: Map<string, number>;
}

/** The suite's closing summary: "  Name......:   Status" lines, and the Pass/FAIL/Skip counts. */
function parseSummary(stdout: string): Summary {
  const categories = new Map<string, string>();
  const totals = new Map<string, number>();
  let section = '';
  let inSummary = false;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('OCI Conformance Result:')) inSummary = true;
    if (!inSummary) continue;
    if (/^(API|Data) conformance:/.test(line)) {
      section = line.startsWith('API') ? 'API' : 'Data';
      continue;
    }
    const match = /^\s+(.+?)\.{2,}:\s+(\S+)\s*$/.exec(line);
    if (match === null) continue;
    const [, name = '', value = ''] = match;
    if (section === '') totals.set(name, Number(value));
    else categories.set(`${section}: ${name}`, value);
  }
  return { categories, totals };
}

async function runMode(mode: Mode, suite: string, cli: string, auth: boolean): Promise<Summary> {
  const work = await makeTempDir(`airgap-conformance-${mode}-`);
  const results = join(OUT, mode);
  await rm(results, { recursive: true, force: true });
  await mkdir(results, { recursive: true });
  const serveArgs = [cli, 'serve', '--writable', '--store', join(work.path, 'store'), '--listen', '127.0.0.1:0'];
  const suiteEnv: NodeJS.ProcessEnv = {
    OCI_TLS: 'disabled',
    OCI_REPO1: 'conformance/repo1',
    OCI_REPO2: 'conformance/repo2',
    OCI_RESULTS_DIR: results,
    OCI_API_BLOBS_UPLOAD_CANCEL: 'true',
    OCI_API_BLOBS_DIGEST_HEADER: 'true',
    OCI_API_MANIFESTS_DIGEST_HEADER: 'true',
    OCI_API_MANIFESTS_TAG_PARAM: 'true',
  };
  if (mode === 'https') {
    const ca = await makeCertificateAuthority(join(work.path, 'ca'));
    serveArgs.push('--tls-cert', ca.certFile, '--tls-key', ca.keyFile);
    // Go reads extra roots from SSL_CERT_FILE: the suite checks the certificate (OCI_TLS=enabled), nothing is skipped.
    Object.assign(suiteEnv, { OCI_TLS: 'enabled', SSL_CERT_FILE: ca.caFile });
    if (auth) {
      const password = `conformance-${process.pid}-${Date.now()}`;
      const htpasswd = join(work.path, 'htpasswd');
      await writeFile(htpasswd, `${await bcryptHtpasswdLine('conformance', password)}\n`, { mode: 0o600 });
      serveArgs.push('--htpasswd', htpasswd);
      Object.assign(suiteEnv, { OCI_USERNAME: 'conformance', OCI_PASSWORD: password });
    }
  }
  const server = startManagedProcess(process.execPath, serveArgs, { cleanupDir: work.path });
  try {
    let host: string | undefined;
    while (host === undefined) {
      host = /^Serving \d+ images at https?:\/\/(\S+) /m.exec(server.logs())?.[1];
      if (host !== undefined) break;
      if (server.hasExited()) throw new Error(`airgap serve did not start:\n${server.logs()}`);
      await sleep(50);
    }
    suiteEnv['OCI_REGISTRY'] = host;
    say(`${mode}: the suite against ${serveArgs.slice(1).join(' ')} at ${host}...`);
    const stdout = await runSuite(suite, suiteEnv, results);
    if (server.hasExited()) throw new Error(`airgap serve exited during the suite:\n${server.logs()}`);
    await writeFile(join(results, 'serve.log'), server.logs());
    return parseSummary(stdout);
  } finally {
    await server.stop();
    await work.remove();
  }
}

function runSuite(suite: string, env: NodeJS.ProcessEnv, results: string): Promise<string> {
  return new Promise((done, fail) => {
    // The suite's own settings come only from here, never from a stray OCI_* of the caller's environment.
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OCI_') && key !== 'SSL_CERT_FILE'));
    const child = spawn(suite, [], { cwd: results, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    // Exit 1 is the suite's "some test failed": the summary says which.
    child.on('close', (code) => {
      void writeFile(join(results, 'stdout.txt'), stdout).then(() => writeFile(join(results, 'stderr.txt'), stderr));
      if (code === 0 || code === 1) done(stdout);
      else fail(new Error(`${suite} exited ${code ?? '?'}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      cli: { type: 'string' },
      'no-auth': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'if-present': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const suite = findSuite();
  if (suite === undefined) {
    const message = `the OCI conformance suite is not here (neither $OCI_CONFORMANCE nor ../shared/tools/oci-conformance/conformance): ${HOW_TO_GET}`;
    if (values['if-present']) {
      say(`conformance: skipped: ${message}`);
      return 0;
    }
    process.stderr.write(`error: ${message}\n`);
    return 1;
  }
  let modes: readonly Mode[] = MODES;
  if (values.only !== undefined) {
    if (!(MODES as readonly string[]).includes(values.only)) throw new Error(`--only takes http or https, got "${values.only}"`);
    modes = [values.only as Mode];
  }
  const cli = values.cli === undefined ? join(ROOT, 'bin', 'airgap.js') : resolve(values.cli);
  if (values.cli === undefined && !values['no-build']) {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }
  const summaries = new Map<Mode, Summary>();
  for (const mode of modes) summaries.set(mode, await runMode(mode, suite, cli, !values['no-auth']));

  const names = [...new Set([...summaries.values()].flatMap((s) => [...s.categories.keys()]))];
  const rows = [['category', ...modes], ...names.map((name) => [name, ...modes.map((m) => summaries.get(m)?.categories.get(name) ?? '-')])];
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  say();
  for (const row of rows) say(row.map((cell, col) => cell.padEnd(widths[col] ?? 0)).join('  '));
  say();
  for (const mode of modes) {
    const totals = summaries.get(mode)?.totals ?? new Map<string, number>();
    say(`${mode}: ${[...totals].map(([k, v]) => `${k} ${v}`).join(', ')} (results in ${join(OUT, mode)})`);
  }
  const failed = [...summaries].flatMap(([mode, s]) => [...s.categories].filter(([, status]) => status === 'FAIL' || status === 'Error').map(([name]) => `${mode} ${name}`));
  if (failed.length > 0) {
    say(`conformance: ${failed.length} categories failed: ${failed.join('; ')}`);
    return 1;
  }
  say('conformance: every category the suite ran passed (Skip/Disabled: as the table says)');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`conformance failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
