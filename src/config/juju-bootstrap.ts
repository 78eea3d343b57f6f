/**
 * `airgap config juju`: the `juju bootstrap` of a controller that pulls its Kubernetes images from the
 * private registry (caas-image-repo), with the list of those images for a Juju version and charm bases.
 * A password is never rendered: the script reads it from the environment when it runs.
 */
import { UsageError } from '../errors.ts';
import { parseRegistryLocation, withRegistry } from '../reference.ts';
import { TOOL_NAME } from '../version.ts';
import { expectedCaasImageRepo } from './caas-image-repo.ts';
import { jujuImages, type CharmBase } from './juju-images.ts';
import type { Rendering } from './rendered.ts';
import { renderTemplate } from './template.ts';

export interface JujuBootstrapOptions {
  /** HOST[:PORT][/PREFIX] */
  registry: string;
  /** The Juju version to name the images' tags for; none: the tags are explained instead. */
  jujuVersion?: string | undefined;
  bases?: readonly CharmBase[];
  /** Default microk8s. */
  cloud?: string | undefined;
  controller?: string | undefined;
  username?: string | undefined;
}

const JUJU_NAME = /^[a-z0-9][a-z0-9-]*$/;

export function renderJujuBootstrap(options: JujuBootstrapOptions): Rendering {
  const { host } = parseRegistryLocation(options.registry);
  const cloud = options.cloud ?? 'microk8s';
  for (const [flag, value] of [['--cloud', cloud], ['--controller', options.controller]] as const) {
    if (value !== undefined && !JUJU_NAME.test(value)) throw new UsageError(`${flag} ${value}: not a Juju name (lower-case letters, digits and "-")`);
  }
  if (options.username !== undefined && (options.username === '' || options.username.includes(':'))) {
    throw new UsageError(`--username ${JSON.stringify(options.username)}: a registry user name is not empty and has no ":"`);
  }
  const repo = expectedCaasImageRepo(options.registry);
  const registry = repo.slice(0, repo.lastIndexOf('/'));
  const bases = options.bases ?? [];
  const images = options.jujuVersion === undefined ? [] : jujuImages(options.jujuVersion, bases.length === 0 ? [] : [{ charm: '', bases }]);
  const content = renderTemplate('juju-bootstrap.sh', {
    tool: TOOL_NAME,
    registry,
    caas_image_repo: repo,
    has_images: images.length > 0,
    images: images.map((i) => ({ reference: withRegistry(i.reference, registry), why: i.why })),
    no_version: options.jujuVersion === undefined,
    cloud,
    controller: options.controller ?? '',
    has_credentials: options.username !== undefined,
    username: options.username ?? '',
    repository_json: JSON.stringify(repo),
    server_json: JSON.stringify(host),
  });
  const notes: string[] = [];
  if (options.jujuVersion !== undefined && bases.length === 0) notes.push('no --base given: add --base ubuntu@NN.NN for each base the sidecar charms run on, to list their charm-base images');
  if (options.username !== undefined) notes.push('run it with AIRGAP_REGISTRY_PASSWORD set; the password goes to a temporary mode-600 file that Juju reads, removed afterwards');
  return { files: [{ path: 'juju-bootstrap.sh', content, installPath: 'juju-bootstrap.sh' }], notes };
}
