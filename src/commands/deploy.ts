import { UsageError } from '../errors.ts';
import { deploy } from '../deploy/deploy.ts';
import { deployReporters } from '../cli/deploy-report.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import { credentialsFromFlags } from './credentials.ts';
import type { CommandIo } from './io.ts';
import { noProxyValue, type DeployCommandOptions } from '../cli/command-line.ts';

/** --proxy: a URL the containers' HTTP clients all understand. */
function proxyUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--proxy ${value}: not a URL`, { hint: 'give it like http://proxy.example.com:3128' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--proxy ${value}: expected an http:// or https:// URL`);
  return value;
}

/** `30m`, `1h30m`, `90s`, `500ms`, `45` (seconds), as `flag` takes it: --timeout, --poll-interval. */
export function parseDuration(flag: string, text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  let rest = text;
  while (rest !== '') {
    const match = /^(\d+(?:\.\d+)?)(ms|h|m|s)/.exec(rest);
    if (match === null) throw new UsageError(`${flag} ${text}: expected a duration like 30m, 1h30m or 90s`);
    total += Number(match[1]) * (units[match[2] ?? 's'] ?? 1000);
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** Below this, `juju status` would run back to back: a poll costs Juju's controller a full status walk. */
const MIN_POLL_MS = 100;

function pollInterval(text: string): number {
  const ms = parseDuration('--poll-interval', text);
  if (ms < MIN_POLL_MS) throw new UsageError(`--poll-interval ${text}: expected ${MIN_POLL_MS}ms or more`);
  return ms;
}

/** `airgap deploy [BUNDLE | airgap.yaml]`. */
export async function deployCommand(target: string | undefined, options: DeployCommandOptions, io: CommandIo): Promise<void> {
  const credentials = await credentialsFromFlags(options, io);
  const reporter = reporterFor(deployReporters, io, options.json);
  await reporting(reporter, async () => {
    const result = await deploy({
      target: target ?? 'airgap.yaml',
      registry: options.registry,
      ...(options.placeholder === undefined ? {} : { placeholder: options.placeholder }),
      ...(options.output === undefined ? {} : { output: options.output }),
      ...(options.lock === undefined ? {} : { lockFile: options.lock }),
      charmsDir: options.charmsDir,
      caFiles: options.caFile,
      plainHttp: options.plainHttp,
      ...(credentials === undefined ? {} : { credentials }),
      dryRun: options.dryRun,
      strict: options.strict,
      ...(options.model === undefined ? {} : { model: options.model }),
      sets: options.set,
      timeoutMs: parseDuration('--timeout', options.timeout),
      ...(options.pollInterval === undefined ? {} : { pollMs: pollInterval(options.pollInterval) }),
      ...(options.juju === undefined ? {} : { jujuPath: options.juju }),
      kubernetes: {
        kubeconfig: options.kubeconfig,
        context: options.context,
        namespace: options.namespace,
        proxy: proxyUrl(options.proxy),
        noProxy: noProxyValue(options),
        internalServices: options.internalServices,
        serviceType: options.serviceType,
      },
      signal: io.signal,
      onEvent: (event) => reporter.onEvent(event),
    });
    reporter.onEvent({ type: 'deployed', result, registry: options.registry, dryRun: options.dryRun });
  });
}
