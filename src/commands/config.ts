import { renderContainerd } from '../config/containerd.ts';
import { renderJujuBootstrap } from '../config/juju-bootstrap.ts';
import { parseBaseOption } from '../config/juju-images.ts';
import { renderRegistryConfig } from '../config/registry-config.ts';
import { writeRendering, type Rendering } from '../config/rendered.ts';
import { renderSkyPilot, type SkyPilotPortMode } from '../config/skypilot.ts';
import { UsageError } from '../errors.ts';
import type { Cloud } from '../kube/transforms.ts';
import type { ConfigKind } from '../config/kinds.ts';
import type { CommandIo } from './io.ts';


export interface ConfigCommandOptions {
  registry: string;
  output?: string;
  force: boolean;
  json: boolean;
  caFile?: string;
  mirrorFor: string[];
  proxy?: string;
  noProxy?: string;
  pullSecret?: string;
  ports?: SkyPilotPortMode;
  internalLb?: Cloud;
  tlsCert?: string;
  tlsKey?: string;
  htpasswd?: string;
  storage?: string;
  listen?: string;
  jujuVersion?: string;
  base: string[];
  cloud?: string;
  controller?: string;
  username?: string;
}

/** The flags each kind takes besides --registry, -o, --force and --json, as they are spelt. */
const FLAGS: Readonly<Record<ConfigKind, readonly (keyof ConfigCommandOptions)[]>> = {
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
  for (const [other, keys] of Object.entries(FLAGS) as [ConfigKind, readonly (keyof ConfigCommandOptions)[]][]) {
    for (const key of keys) {
      if (FLAGS[kind].includes(key)) continue;
      const value = options[key];
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
      return renderSkyPilot({ registry: options.registry, proxy: options.proxy, noProxy: options.noProxy, pullSecret: options.pullSecret, ports: options.ports, internalLb: options.internalLb });
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
  const rendering = await render(kind, options);
  const written = options.output === undefined ? [] : await writeRendering(rendering, options.output, options.force);
  if (options.json) {
    io.stdout(`${JSON.stringify({ kind, files: rendering.files.map((f, i) => ({ ...f, ...(written[i] === undefined ? {} : { writtenTo: written[i].path, outcome: written[i].outcome }) })), notes: rendering.notes }, null, 2)}\n`);
    return;
  }
  if (options.output === undefined) {
    const several = rendering.files.length > 1;
    for (const file of rendering.files) {
      if (several) io.stdout(`# ---- ${file.installPath} ----\n`);
      io.stdout(file.content.endsWith('\n') ? file.content : `${file.content}\n`);
    }
  } else {
    for (const [i, w] of written.entries()) io.stdout(`${w.outcome === 'written' ? 'wrote' : 'unchanged'} ${w.path}  (belongs at ${rendering.files[i]?.installPath ?? w.path})\n`);
  }
  for (const note of rendering.notes) io.stderr(`note: ${note}\n`);
}
