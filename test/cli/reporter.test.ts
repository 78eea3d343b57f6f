import { describe, expect, it } from 'vitest';
import { checkReporters } from '../../src/cli/check-report.ts';
import { configReporters } from '../../src/cli/config-report.ts';
import { deployReporters, type DeployReport } from '../../src/cli/deploy-report.ts';
import { reportForm, reporterFor, reporting } from '../../src/cli/reporter.ts';
import { serveReporters } from '../../src/cli/serve-report.ts';
import type { CommandIo } from '../../src/commands/io.ts';
import type { DeployResult } from '../../src/deploy/deploy.ts';

// The plain and json forms, in process: what goes to stdout, what to stderr. The tty forms draw with listr2
// on a real terminal: test/e2e/terminal.test.ts.
const HOSTILE = 'x\u001b]0;pwned\u0007\nerror: forged';
const ESCAPED = 'x\\u001b]0;pwned\\u0007\\nerror: forged';

function fakeIo(isTty = false): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    readStdin: async () => '',
    isTty,
    signal: new AbortController().signal,
  };
}

const DEPLOYED: DeployResult = {
  output: '/r/bundle.airgap.yaml',
  rewritten: [],
  unreachable: [],
  checkedImages: 2,
  plan: { actions: [], applications: ['app-a'] },
  ran: [],
  state: undefined,
  kubernetes: undefined,
};

describe('the form of a run', () => {
  it('is json with --json, tty on a terminal, plain otherwise', () => {
    expect(reportForm({ isTty: true }, true)).toBe('json');
    expect(reportForm({ isTty: true }, false)).toBe('tty');
    expect(reportForm({ isTty: false }, false)).toBe('plain');
  });

  it('reporting() lets the reporter finish, with the error when the work failed, before the error goes on', async () => {
    const finished: unknown[] = [];
    const failure = new Error('registry down');
    await expect(reporting({ finish: async (err?: unknown) => void finished.push(err) }, () => Promise.reject(failure))).rejects.toBe(failure);
    await reporting({ finish: async (err?: unknown) => void finished.push(err) }, () => Promise.resolve(1));
    expect(finished).toEqual([failure, undefined]);
  });
});

describe('deploy', () => {
  const events: DeployReport[] = [
    { type: 'rewritten', file: `/r/${HOSTILE}.yaml`, output: undefined, references: [{ yamlPath: 'applications.a.resources.oci-image', line: 3, before: 'p/a:1', after: 'r/a:1' }] },
    { type: 'unreachable', file: '/r/b.yaml', references: [{ yamlPath: 'applications.a.options.x', line: 7, reference: 'quay.io/x:1' }] },
    { type: 'waiting', applications: ['app-a'], notReady: [{ application: 'app-a', unit: 'app-a/0', status: 'waiting', message: '' }] },
    { type: 'waiting', applications: ['app-a'], notReady: [{ application: 'app-a', unit: 'app-a/0', status: 'waiting', message: '' }] },
    { type: 'image-pull-failed', failure: { namespace: 'm', pod: 'p', container: 'c', image: 'r/a:1', reason: 'ErrImagePull', message: 'not found' }, hint: undefined },
    { type: 'warning', message: `caas-image-repo is not set ${HOSTILE}` },
    { type: 'deployed', result: DEPLOYED, registry: 'r', dryRun: true },
  ];

  it('plain: progress on stdout, every warning (typed, not guessed from its text) on stderr, names escaped', () => {
    const io = fakeIo();
    const reporter = reporterFor(deployReporters, io, false);
    for (const event of events) reporter.onEvent(event);
    expect(io.out).toEqual([
      `rewrote 1 reference in /r/${ESCAPED}.yaml\n`,
      '  applications.a.resources.oci-image (line 3): p/a:1 -> r/a:1\n',
      'waiting for app-a/0 waiting\n',
      'Dry run: 0 references rewritten, 2 images present in r; nothing was changed\n',
    ]);
    expect(io.err).toEqual([
      'warning: applications.a.options.x (line 7): quay.io/x:1 points at a registry the cluster cannot reach and names no collected image\n',
      'warning: pod m/p container c cannot pull r/a:1: ErrImagePull: not found\n',
      `warning: caas-image-repo is not set ${ESCAPED}\n`,
    ]);
  });

  it('json: nothing until the end, then one document listing the warnings', () => {
    const io = fakeIo();
    const reporter = reporterFor(deployReporters, io, true);
    for (const event of events.slice(0, -1)) reporter.onEvent(event);
    expect(io.out).toEqual([]);
    reporter.onEvent(events.at(-1) as DeployReport);
    expect(io.err).toEqual([]);
    const document = JSON.parse(io.out.join('')) as { checkedImages: number; warnings: string[] };
    expect(document.checkedImages).toBe(2);
    expect(document.warnings).toEqual(['pod m/p container c cannot pull r/a:1: ErrImagePull: not found', `caas-image-repo is not set ${HOSTILE}`]);
  });
});

describe('serve', () => {
  const request = { type: 'request', time: '2026-01-01T00:00:00.000Z', remote: '127.0.0.1', user: `al ${HOSTILE}`, method: 'GET', path: '/v2/', status: 200, bytesSent: 2, bytesReceived: 0, ms: 1, aborted: false } as const;

  it('plain: where it serves, a line per request (client strings escaped), warnings on stderr, the stop', async () => {
    const io = fakeIo();
    const reporter = reporterFor(serveReporters, io, false);
    reporter.onEvent({ type: 'serving', url: 'http://127.0.0.1:5000', host: '127.0.0.1:5000', images: 3, writable: false, htpasswd: 'users', anonymousPull: true, store: undefined });
    reporter.onEvent(request);
    reporter.onEvent({ type: 'unpack-blob', digest: 'sha256:1', size: 1, written: true });
    reporter.onEvent({ type: 'warning', message: 'users changed' });
    reporter.onEvent({ type: 'stopped' });
    await reporter.finish();
    expect(io.out).toEqual([
      'Serving 3 images at http://127.0.0.1:5000 (read-only, users of users, anonymous pull)\n',
      '  e.g. skopeo inspect --tls-verify=false docker://127.0.0.1:5000/NAME:TAG; Ctrl-C stops\n',
      '2026-01-01T00:00:00.000Z 127.0.0.1 al\\x20x\\x1b]0;pwned\\x07\\x0aerror:\\x20forged GET /v2/ 200 2 1ms\n',
      'stopped: every request in flight was answered\n',
    ]);
    expect(io.err).toEqual(['warning: users changed\n']);
  });

  it('json: one object per line, the per-blob unpack steps left out', () => {
    const io = fakeIo();
    const reporter = reporterFor(serveReporters, io, true);
    reporter.onEvent({ type: 'unpack-blob', digest: 'sha256:1', size: 1, written: true });
    reporter.onEvent(request);
    reporter.onEvent({ type: 'stopped' });
    expect(io.out.map((line) => (JSON.parse(line) as { type: string }).type)).toEqual(['request', 'stopped']);
    expect(io.out.every((line) => line.endsWith('}\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
  });
});

describe('check', () => {
  it('plain: each part\'s lines as it is done, then the count; json: the report', () => {
    const results = [{ section: 'registry', status: 'warn', what: 'TLS', detail: HOSTILE, fix: 'trust it' }] as const;
    const report = { results: [...results], failed: 0, warned: 1 };
    const plain = fakeIo();
    const reporter = reporterFor(checkReporters, plain, false);
    reporter.onEvent({ type: 'checking', parts: ['registry'] });
    reporter.onEvent({ type: 'checked', part: 'registry', results: [...results] });
    reporter.onEvent({ type: 'report', report });
    expect(plain.out).toEqual([`warn  registry    TLS                   ${ESCAPED}; fix: trust it\n`, '0 failed, 1 warning(s), 0 ok, 0 skipped\n']);
    const json = fakeIo();
    const machine = reporterFor(checkReporters, json, true);
    machine.onEvent({ type: 'checked', part: 'registry', results: [...results] });
    machine.onEvent({ type: 'report', report });
    expect(JSON.parse(json.out.join(''))).toEqual(report);
  });
});

describe('config', () => {
  it('prints the files, or where they went, and its notes on stderr', () => {
    const io = fakeIo(true);
    const reporter = reporterFor(configReporters(false), io, false);
    reporter.onEvent({ type: 'rendered', kind: 'containerd', rendering: { files: [{ path: 'r/hosts.toml', content: 'x', installPath: '/etc/containerd/certs.d/r/hosts.toml' }], notes: ['restart containerd'] }, written: [{ path: '/o/r/hosts.toml', outcome: 'written' }] });
    expect(io.out).toEqual(['wrote /o/r/hosts.toml  (belongs at /etc/containerd/certs.d/r/hosts.toml)\n']);
    expect(io.err).toEqual(['note: restart containerd\n']);
  });
});
