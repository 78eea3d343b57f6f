/** What `airgap config` renders; apart from the renderers, so the CLI can offer the choices without loading them. */
export const CONFIG_KINDS = ['containerd', 'microk8s', 'skypilot', 'registry', 'juju'] as const;
export type ConfigKind = (typeof CONFIG_KINDS)[number];
