/**
 * Which cluster and namespace, found as kubectl finds them: `--kubeconfig`, else every file of
 * `KUBECONFIG` (merged, the first to set a value wins), else `~/.kube/config`, else the pod's service
 * account; then the current context (or `--context`) and that context's namespace (or `-n`).
 *
 * client-node's own `loadFromDefault` falls back to http://localhost:8080 when it finds nothing; here
 * "nothing found" is an answer of its own, so a release whose Juju part needs no cluster can say so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { AirgapError, ReleaseFileError, messageOf } from '../errors.ts';
import { parseYamlDocuments } from '../yaml/documents.ts';
import { clientNode } from './lib.ts';

export interface KubeTargetOptions {
  /** --kubeconfig FILE */
  kubeconfig?: string;
  /** --context NAME */
  context?: string;
  /** -n, --namespace NAME */
  namespace?: string;
  /** Where KUBECONFIG and HOME are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The service account directory of a pod; a parameter so tests never see the real one. */
  serviceAccountDir?: string;
}

export interface KubeTarget {
  config: KubeConfig;
  context: string;
  server: string;
  namespace: string;
  namespaceFrom: 'flag' | 'context' | 'default';
  /** The file(s) read, or `in-cluster service account`. */
  source: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function kubeconfigFiles(options: KubeTargetOptions, env: NodeJS.ProcessEnv): { files: string[]; from: string } | undefined {
  if (options.kubeconfig !== undefined) {
    const file = resolve(options.kubeconfig);
    if (!existsSync(file)) throw new AirgapError(`--kubeconfig ${options.kubeconfig}: no such file`, { hint: 'give the path of a kubeconfig file' });
    return { files: [file], from: '--kubeconfig' };
  }
  const listed = (env['KUBECONFIG'] ?? '').split(delimiter).filter((f) => f !== '');
  if (listed.length > 0) {
    // kubectl skips the files of the list that do not exist; a list of none at all is a mistake worth naming.
    const files = listed.map((f) => resolve(f)).filter((f) => existsSync(f));
    if (files.length === 0) throw new AirgapError(`KUBECONFIG=${env['KUBECONFIG'] ?? ''} names no existing file`, { hint: 'fix KUBECONFIG, or unset it to use ~/.kube/config' });
    return { files, from: 'KUBECONFIG' };
  }
  const home = env['HOME'] ?? homedir();
  const file = join(home, '.kube', 'config');
  return existsSync(file) ? { files: [file], from: '~/.kube/config' } : undefined;
}

/** Why no cluster was found, for a skip line or a failure. */
export function describeNoKubeconfig(env: NodeJS.ProcessEnv = process.env): string {
  return `no kubeconfig: KUBECONFIG is not set, ${join(env['HOME'] ?? homedir(), '.kube', 'config')} does not exist, and this is not a pod`;
}

async function loadFiles(files: readonly string[]): Promise<KubeConfig> {
  const { KubeConfig } = await clientNode();
  const merged = new KubeConfig();
  for (const [index, file] of files.entries()) {
    const one = new KubeConfig();
    try {
      // client-node's js-yaml has no limits: the file goes through the shared reader's first.
      await parseYamlDocuments(file, await readFile(file, 'utf8'));
      one.loadFromFile(file);
    } catch (err: unknown) {
      const why = err instanceof ReleaseFileError ? err.message : `${file}: ${messageOf(err).split('\n')[0] ?? ''}`;
      throw new AirgapError(`cannot read kubeconfig ${why}`, { cause: err, hint: 'check the file with `kubectl config view`' });
    }
    if (index === 0) {
      merged.loadFromOptions({ clusters: one.clusters, users: one.users, contexts: one.contexts, currentContext: one.currentContext });
      continue;
    }
    // kubectl's merge: the first file to name a cluster, user or context (or set current-context) wins.
    for (const cluster of one.clusters) if (merged.getCluster(cluster.name) === null) merged.addCluster(cluster);
    for (const user of one.users) if (merged.getUser(user.name) === null) merged.addUser(user);
    for (const context of one.contexts) if (merged.getContextObject(context.name) === null) merged.addContext(context);
    if (!merged.currentContext && one.currentContext) merged.setCurrentContext(one.currentContext);
  }
  return merged;
}

/**
 * The cluster to talk to, or undefined when there is no kubeconfig anywhere and none was asked for.
 * Throws when what was asked for (a file, a context) does not exist or makes no sense.
 */
export async function findKubeTarget(options: KubeTargetOptions = {}): Promise<KubeTarget | undefined> {
  const env = options.env ?? process.env;
  if (options.namespace !== undefined && !NAMESPACE_NAME.test(options.namespace)) {
    throw new AirgapError(`-n ${options.namespace}: not a valid namespace name`, { hint: 'a namespace name is lower-case letters, digits and -' });
  }
  const found = kubeconfigFiles(options, env);
  let config: KubeConfig;
  let source: string;
  let inCluster = false;
  if (found !== undefined) {
    config = await loadFiles(found.files);
    source = found.files.join(delimiter);
  } else {
    const saDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
    if (env['KUBERNETES_SERVICE_HOST'] === undefined || !existsSync(join(saDir, 'token'))) {
      if (options.context !== undefined) throw new AirgapError(`--context ${options.context}: ${describeNoKubeconfig(env)}`, { hint: 'pass --kubeconfig FILE or set KUBECONFIG' });
      return undefined;
    }
    const { KubeConfig } = await clientNode();
    config = new KubeConfig();
    // client-node takes a prefix to put before the well-known path, not a directory: a test's directory
    // ends with that path, so what comes before it is the prefix.
    config.loadFromCluster(saDir.endsWith(SERVICE_ACCOUNT_DIR) ? saDir.slice(0, -SERVICE_ACCOUNT_DIR.length) : '');
    source = 'in-cluster service account';
    inCluster = true;
  }

  if (options.context !== undefined) {
    if (config.getContextObject(options.context) === null) {
      const known = config.getContexts().map((c) => c.name);
      throw new AirgapError(`--context ${options.context}: no such context in ${source}`, {
        hint: known.length === 0 ? 'the kubeconfig defines no context' : `its contexts: ${known.join(', ')}`,
      });
    }
    config.setCurrentContext(options.context);
  }
  const contextName = config.getCurrentContext();
  if (!contextName) {
    throw new AirgapError(`${source} has no current-context`, { hint: 'pass --context NAME, or run `kubectl config use-context NAME`' });
  }
  const context = config.getContextObject(contextName);
  if (context === null) {
    throw new AirgapError(`${source}: current-context "${contextName}" is not defined`, { hint: 'pass --context NAME, or run `kubectl config use-context NAME`' });
  }
  const cluster = config.getCurrentCluster();
  if (cluster === null) {
    throw new AirgapError(`${source}: context "${contextName}" names cluster "${context.cluster}", which is not defined`, { hint: 'fix the kubeconfig, or pass --context with another context' });
  }
  let namespace = options.namespace;
  let namespaceFrom: KubeTarget['namespaceFrom'] = 'flag';
  if (namespace === undefined) {
    const fromContext = inCluster ? readTrimmed(join(options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, 'namespace')) : context.namespace;
    namespace = fromContext || 'default';
    namespaceFrom = fromContext ? 'context' : 'default';
  }
  return { config, context: contextName, server: cluster.server, namespace, namespaceFrom, source };
}

function readTrimmed(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
