/**
 * The kubernetes: section of SkyPilot's ~/.sky/config.yaml for an air-gapped cluster: the pull secret and
 * the six proxy variables in every pod SkyPilot starts, how its ports are opened, and the task-level
 * image_id of SkyPilot's own images at their place in the private registry.
 */
import { UsageError } from '../errors.ts';
import { INTERNAL_LB_ANNOTATIONS, proxyVariables, type Cloud } from '../kube/transforms.ts';
import { parseRegistryLocation, withRegistry } from '../reference.ts';
import { TOOL_NAME } from '../version.ts';
import type { Rendering } from './rendered.ts';
import { renderTemplate } from './template.ts';

/**
 * SkyPilot's default images on Kubernetes: its IMAGE_CPU and IMAGE_GPU tags (skypilot:custom-cpu-ubuntu-2004,
 * skypilot:custom-gpu-ubuntu-2004, sky/clouds/kubernetes.py) as its catalog resolves them
 * (skypilot-org/skypilot-catalog, catalogs/v8/kubernetes/images.csv). bundles/skypilot/airgap.yaml carries them.
 */
export const SKYPILOT_CPU_IMAGE = 'us-docker.pkg.dev/sky-dev-465/skypilotk8s/skypilot:latest';
export const SKYPILOT_GPU_IMAGE = 'us-docker.pkg.dev/sky-dev-465/skypilotk8s/skypilot-gpu:latest';

/** SkyPilot's kubernetes.ports values (sky/utils/kubernetes_enums.py, KubernetesPortMode). */
export const SKYPILOT_PORT_MODES = ['podip', 'ingress', 'loadbalancer'] as const;
export type SkyPilotPortMode = (typeof SKYPILOT_PORT_MODES)[number];

export interface SkyPilotOptions {
  /** HOST[:PORT][/PREFIX] */
  registry: string;
  proxy?: string | undefined;
  noProxy?: string | undefined;
  pullSecret?: string | undefined;
  ports?: SkyPilotPortMode | undefined;
  internalLb?: Cloud | undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function renderSkyPilot(options: SkyPilotOptions): Rendering {
  const { host, prefix } = parseRegistryLocation(options.registry);
  const registry = prefix === undefined ? host : `${host}/${prefix}`;
  if (options.pullSecret !== undefined && (!DNS_LABEL.test(options.pullSecret) || options.pullSecret.length > 253)) {
    throw new UsageError(`--pull-secret ${options.pullSecret}: not a Kubernetes object name`, { hint: 'lower-case letters, digits, "-" and "."; airgap deploy --username creates airgap-registry' });
  }
  if (options.internalLb !== undefined && options.ports !== undefined && options.ports !== 'loadbalancer') {
    throw new UsageError(`--internal-lb applies to LoadBalancer Services, and --ports ${options.ports} makes none`, { hint: 'use --ports loadbalancer (SkyPilot\'s default) or drop --internal-lb' });
  }
  if (options.noProxy !== undefined && options.proxy === undefined) throw new UsageError('--no-proxy without --proxy sets nothing useful', { hint: 'give --proxy URL too' });
  if (options.proxy !== undefined && !/^https?:\/\/[^\s/]+/.test(options.proxy)) throw new UsageError(`--proxy ${options.proxy}: expected http://HOST:PORT`);
  const env = proxyVariables({ proxy: options.proxy, noProxy: options.noProxy });
  const annotation = options.internalLb === undefined ? undefined : INTERNAL_LB_ANNOTATIONS[options.internalLb];
  const hasPodConfig = options.pullSecret !== undefined || env.length > 0;
  const content = renderTemplate('skypilot-config.yaml', {
    tool: TOOL_NAME,
    registry,
    cpu_image: withRegistry(SKYPILOT_CPU_IMAGE, registry),
    gpu_image: withRegistry(SKYPILOT_GPU_IMAGE, registry),
    empty: options.ports === undefined && annotation === undefined && !hasPodConfig,
    ports: options.ports ?? '',
    has_annotations: annotation !== undefined,
    annotations: annotation === undefined ? [] : [{ key: annotation.key, value: annotation.value }],
    has_pod_config: hasPodConfig,
    pull_secret: options.pullSecret ?? '',
    has_env: env.length > 0,
    env,
  });
  const notes: string[] = [];
  if (options.pullSecret !== undefined) notes.push(`the Secret ${options.pullSecret} must exist in the namespace SkyPilot uses (airgap deploy --username creates airgap-registry in the namespaces it deploys to)`);
  return { files: [{ path: 'config.yaml', content, installPath: '~/.sky/config.yaml' }], notes };
}
