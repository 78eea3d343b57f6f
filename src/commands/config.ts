import { renderContainerd } from '../config/containerd.ts';
import { renderJujuBootstrap } from '../config/juju-bootstrap.ts';
import { parseBaseOption } from '../config/juju-images.ts';
import { renderRegistryConfig } from '../config/registry-config.ts';
import { writeRendering, type Rendering } from '../config/rendered.ts';
import { renderSkyPilot } from '../config/skypilot.ts';
import { UsageError } from '../errors.ts';
import type { OptionValues } from '@commander-js/extra-typings';
import { CONFIG_KINDS, type ConfigKind } from '../config/kinds.ts';
import { noProxyValue, type ConfigCommandOptions } from '../cli/command-line.ts';
import { configReporters } from '../cli/config-report.ts';
import { reporterFor, reporting } from '../cli/reporter.ts';
import type { CommandIo } from './io.ts';

/** The flags each kind takes besides --registry, -o, --force and --json, by their option names. */
const FLAGS: Readonly<Record<ConfigKind, readonly string[]>> = {
  containerd: ['caFile', 'mirrorFor'],
  microk8s: ['caFile', 'mirrorFor'],
  skypilot: ['proxy', 'noProxy', 'pullSecret', 'ports', 'internalLb'],
  registry: ['tlsCert', 'tlsKey', 'htpasswd', 'storage', 'listen'],
  juju: ['jujuVersion', 'base', 'cloud', 'controller', 'username'],
};

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** A flag of another kind is a mistake worth stopping for: it would silently do nothing. */
function refuseOtherFlags(kind: ConfigKind, options: ConfigCommandOptions): void {
  // By name, as commander stores them: --no-proxy's value is under noProxy, which the option types do not know.
  const values: OptionValues = options;
  for (const other of CONFIG_KINDS) {
    for (const key of FLAGS[other]) {
      if (FLAGS[kind].includes(key)) continue;
      const value = values[key];
      if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
      throw new UsageError(`${flagName(key)} does not apply to airgap config ${kind}`, { hint: `it is a flag of airgap config ${other}` });
    }
  }
}

async function render(kind: ConfigKind, options: ConfigCommandOptions): Promise<Rendering> {
  switch (kind) {
    case 'containerd':
    case 'microk8s':
      return renderContainerd({ flavour: kind, registry: options.registry, caFile: options.caFile, mirrorFor: options.mirrorFor });
    case 'skypilot':
      return renderSkyPilot({ registry: options.registry, proxy: options.proxy, noProxy: noProxyValue(options), pullSecret: options.pullSecret, ports: options.ports, internalLb: options.internalLb });
    case 'registry':
      if (options.tlsCert === undefined || options.tlsKey === undefined) throw new UsageError('airgap config registry needs --tls-cert and --tls-key', { hint: 'the registry serves HTTPS: Juju and containerd insist on it' });
      return renderRegistryConfig({ registry: options.registry, tlsCert: options.tlsCert, tlsKey: options.tlsKey, htpasswd: options.htpasswd, storageDir: options.storage, listen: options.listen });
    case 'juju':
      return renderJujuBootstrap({ registry: options.registry, jujuVersion: options.jujuVersion, bases: options.base.map(parseBaseOption), cloud: options.cloud, controller: options.controller, username: options.username });
  }
}

/**
 * `airgap config KIND --registry REG`: renders one of templates/. Without -o the files are printed, each
 * under a comment naming where it belongs; with -o they are written (existing files with other content
 * only with --force); --json gives both as data.
 */
export async function configCommand(kind: ConfigKind, options: ConfigCommandOptions, io: CommandIo): Promise<void> {
  refuseOtherFlags(kind, options);
  const reporter = reporterFor(configReporters(options.output === undefined), io, options.json);
  await reporting(reporter, async () => {
    const rendering = await render(kind, options);
    const written = options.output === undefined ? [] : await writeRendering(rendering, options.output, options.force);
    reporter.onEvent({ type: 'rendered', kind, rendering, written });
  });
}
