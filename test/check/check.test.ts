import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChecks } from '../../src/check/check.ts';
import { formatCheckLine } from '../../src/cli/check-report.ts';

describe('runChecks', () => {
  it('skips a section without its flags or config, saying why, in a fixed order', async () => {
    const env = { HOME: '/nonexistent-home', PATH: '/nonexistent-bin' };
    const seen: string[] = [];
    const report = await runChecks({
      juju: { env },
      kubernetes: { env, serviceAccountDir: join('/nonexistent', 'sa') },
      onEvent: (e) => seen.push(e.type === 'checking' ? `checking ${e.parts.join(' ')}` : `${e.part}: ${e.results.map((r) => `${r.section} ${r.status}`).join(', ')}`),
    });
    expect(seen).toEqual(['checking registry juju kubernetes', 'registry: registry skip', 'juju: juju warn', 'kubernetes: kubernetes skip, dns skip']);
    expect(report.failed).toBe(0);
    expect(report.warned).toBe(1);
    expect(report.results[2]?.detail).toContain('no kubeconfig: KUBECONFIG is not set, /nonexistent-home/.kube/config does not exist');
  });

  it('a Kubernetes flag without a kubeconfig is a failure, not a skip', async () => {
    const env = { HOME: '/nonexistent-home', PATH: '/nonexistent-bin' };
    const report = await runChecks({ juju: { env }, kubernetes: { env, gpus: true } });
    expect(report.results.find((r) => r.section === 'kubernetes')).toMatchObject({ status: 'fail', what: 'kubeconfig' });
    expect(report.failed).toBe(1);
  });
});

describe('formatCheckLine', () => {
  it('lines up status, section and what, then the detail and the fix', () => {
    expect(formatCheckLine({ section: 'registry', status: 'fail', what: 'push', detail: 'refused', fix: 'use another account' }))
      .toBe('fail  registry    push                  refused; fix: use another account');
    expect(formatCheckLine({ section: 'dns', status: 'ok', what: 'CoreDNS forward', detail: 'private' })).toBe('ok    dns         CoreDNS forward       private');
  });
});
