/**
 * @kubernetes/client-node, loaded on first use. It takes most of a second to import, which every
 * `airgap collect` and `airgap load` would pay for nothing if it were imported at start-up.
 */
export type ClientNode = typeof import('@kubernetes/client-node');

let loading: Promise<ClientNode> | undefined;

export function clientNode(): Promise<ClientNode> {
  loading ??= import('@kubernetes/client-node');
  return loading;
}
