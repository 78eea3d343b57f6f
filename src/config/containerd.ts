/**
 * containerd's hosts.toml for the private registry, for containerd itself or MicroK8s's: one directory
 * for the registry (its CA beside it) and one for each public registry it stands in for, whose images
 * `airgap load` put at REGISTRY[/PREFIX]/PATH, so a workload that names docker.io/... still pulls.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.ts';
import { parseRegistryLocation, parseReference } from '../reference.ts';
import { TOOL_NAME } from '../version.ts';
import type { Rendering, RenderedFile } from './rendered.ts';
import { renderTemplate } from './template.ts';

export type ContainerdFlavour = 'containerd' | 'microk8s';

/** Where each flavour's containerd looks for HOST directories (its config_path). */
export const CERTS_D: Readonly<Record<ContainerdFlavour, string>> = {
  containerd: '/etc/containerd/certs.d',
  microk8s: '/var/snap/microk8s/current/args/certs.d',
};

/** The file name the CA is copied to, beside each hosts.toml. */
export const CA_FILE_NAME = 'ca.crt';

export interface ContainerdOptions {
  flavour: ContainerdFlavour;
  /** HOST[:PORT][/PREFIX] */
  registry: string;
  caFile?: string | undefined;
  /** Public registry hosts whose images are to come from the private registry. */
  mirrorFor?: readonly string[];
}

/** Docker Hub's other names are one namespace to containerd: it files docker.io/... under docker.io. */
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function mirrorHost(text: string, registryHost: string): string {
  let host: string;
  try {
    host = parseReference(`${text}/x`).host ?? '';
  } catch {
    host = '';
  }
  if (host === '' || host !== text) throw new UsageError(`--mirror-for ${text}: not a registry host`, { hint: 'give a host such as docker.io, quay.io or gcr.io' });
  if (host === registryHost) throw new UsageError(`--mirror-for ${text} is the private registry itself`);
  return DOCKER_HUB_NAMES.has(host) ? 'docker.io' : host;
}

/** The CA's text, after making sure it is a PEM certificate: a key or a DER file here fails every pull. */
export async function readCaCertificate(file: string): Promise<{ pem: string; subject: string; isCa: boolean }> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new UsageError(`--ca-file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, { hint: 'give the CA certificate in PEM form (openssl x509 -inform der -in CA -out ca.crt)' });
  try {
    const cert = new X509Certificate(pem);
    return { pem: pem.endsWith('\n') ? pem : `${pem}\n`, subject: cert.subject.replaceAll('\n', ', '), isCa: cert.ca };
  } catch (err: unknown) {
    throw new UsageError(`--ca-file ${file}: the certificate cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

export async function renderContainerd(options: ContainerdOptions): Promise<Rendering> {
  const { host, prefix } = parseRegistryLocation(options.registry);
  const registry = prefix === undefined ? host : `${host}/${prefix}`;
  const installDir = CERTS_D[options.flavour];
  const mirrors = [...new Set((options.mirrorFor ?? []).map((m) => mirrorHost(m, host)))];
  const ca = options.caFile === undefined ? undefined : await readCaCertificate(options.caFile);
  const notes: string[] = [];
  if (ca !== undefined && !ca.isCa) notes.push(`${options.caFile} (${ca.subject}) is not a CA certificate: containerd trusts it only if it is the registry's own self-signed certificate`);
  if (prefix !== undefined && mirrors.length === 0) notes.push(`the registry has the prefix /${prefix}: only references written ${registry}/... reach it; --mirror-for HOST lets HOST/... ones reach it too`);

  const files: RenderedFile[] = [];
  const add = (dir: string, mirror: boolean, server: string): void => {
    const content = renderTemplate('containerd-hosts.toml', {
      tool: TOOL_NAME,
      install_dir: installDir,
      host: dir,
      registry,
      server,
      mirror,
      mirror_url: `https://${host}/v2${prefix === undefined ? '' : `/${prefix}`}`,
      ca: ca === undefined ? '' : CA_FILE_NAME,
    });
    files.push({ path: `${dir}/hosts.toml`, content, installPath: `${installDir}/${dir}/hosts.toml` });
    if (ca !== undefined) files.push({ path: `${dir}/${CA_FILE_NAME}`, content: ca.pem, installPath: `${installDir}/${dir}/${CA_FILE_NAME}` });
  };
  add(host, false, `https://${host}`);
  for (const mirror of mirrors) add(mirror, true, mirror === 'docker.io' ? 'https://registry-1.docker.io' : `https://${mirror}`);
  if (options.flavour === 'microk8s') notes.push('MicroK8s 1.23 or later reads these directories; older ones need the registry in containerd-template.toml');
  return { files, notes };
}
