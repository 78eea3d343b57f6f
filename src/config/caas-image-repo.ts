/**
 * Whether a Juju controller takes its Kubernetes images (jujud-operator, juju-db, charm-base) from the
 * private registry: its caas-image-repo must be REGISTRY[/PREFIX]/jujusolutions, where `airgap load`
 * puts them. Juju keeps the value as set at bootstrap: a repository, or JSON holding one with
 * serveraddress and credentials (docker.ImageRepoDetails). Only the repository is ever shown.
 */
import { messageOf } from '../errors.ts';
import type { Juju } from '../deploy/juju.ts';
import { parseRegistryLocation } from '../reference.ts';
import { JUJU_NAMESPACE } from './juju-images.ts';

export interface CaasImageRepoVerdict {
  ok: boolean;
  /** The repository Juju pulls from; undefined when caas-image-repo is not set (Docker Hub). */
  current: string | undefined;
  expected: string;
  detail: string;
  fix: string | undefined;
}

/** REGISTRY[/PREFIX]/jujusolutions: where Juju's images are after `airgap load --registry REGISTRY`. */
export function expectedCaasImageRepo(registry: string): string {
  const { host, prefix } = parseRegistryLocation(registry);
  return `${host}${prefix === undefined ? '' : `/${prefix}`}/${JUJU_NAMESPACE}`;
}

/** The repository of a caas-image-repo value, without the credentials it may hold. */
export function caasImageRepository(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  if (text.startsWith('{')) {
    try {
      const details = JSON.parse(text) as { repository?: unknown };
      return typeof details.repository === 'string' && details.repository !== '' ? details.repository : undefined;
    } catch {
      // Juju itself takes a value that is not JSON as a plain repository.
    }
  }
  return text;
}

/** Docker Hub's spellings of one repository compare equal: jujusolutions, docker.io/jujusolutions. */
function normalise(repository: string): string {
  const trimmed = repository.replace(/\/+$/, '');
  const first = trimmed.split('/')[0] ?? '';
  const hasHost = trimmed.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const withHost = hasHost ? trimmed : `docker.io/${trimmed}`;
  return withHost.replace(/^(index\.docker\.io|registry-1\.docker\.io)\//, 'docker.io/');
}

export function judgeCaasImageRepo(controllerConfig: Readonly<Record<string, unknown>>, registry: string): CaasImageRepoVerdict {
  const expected = expectedCaasImageRepo(registry);
  const current = caasImageRepository(controllerConfig['caas-image-repo']);
  const rebootstrap = `Juju lets only its credentials change after bootstrap: bootstrap the controller with --config caas-image-repo=${expected} (airgap config juju --registry ${registry}), or mirror its registry to ${registry} on every node (airgap config containerd|microk8s --mirror-for ${current === undefined ? 'docker.io' : normalise(current).split('/')[0] ?? 'docker.io'})`;
  if (current === undefined) {
    return { ok: false, current, expected, detail: `caas-image-repo is not set: Juju pulls jujud-operator, juju-db and charm-base from Docker Hub (${JUJU_NAMESPACE}), which the air gap cannot reach; charm pods will fail with ImagePullBackOff`, fix: rebootstrap };
  }
  if (normalise(current) === normalise(expected)) return { ok: true, current, expected, detail: `caas-image-repo is ${current}: Juju's images come from the private registry`, fix: undefined };
  return { ok: false, current, expected, detail: `caas-image-repo is ${current}, not ${expected} where airgap load puts Juju's images; charm pods will fail with ImagePullBackOff unless ${current} has them`, fix: rebootstrap };
}

/** Asks the controller; a controller-config that cannot be read is a verdict too, never a crash. */
export async function checkControllerImageRepo(juju: Juju, registry: string, signal?: AbortSignal): Promise<CaasImageRepoVerdict | { ok: false; error: string }> {
  try {
    return judgeCaasImageRepo(await juju.controllerConfig(signal), registry);
  } catch (err: unknown) {
    return { ok: false, error: messageOf(err) };
  }
}
