import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { INVALID_REFERENCE_HINT, rewriteString, rewriteYamlText, type RewriteOptions, type RewrittenReference, type UnreachableReference } from '../bundle/rewrite.ts';
import { AirgapError, ReleaseFileError, UsageError, messageOf } from '../errors.ts';
import { AtomicFile } from '../fs/atomic-file.ts';
import { LOCK_FILE_NAME, readLock, type Lock } from '../lock.ts';
import { parseReference, parseRegistryLocation, tryParseReference, withRegistry } from '../reference.ts';
import { loadRelease, type Release } from '../release/index.ts';
import { parseYamlDocuments, plainValue } from '../yaml/documents.ts';
import { deployManifests, preflightManifests, watchModelPods, type KubeDeployOptions, type KubeDeployResult, type ManifestText, type ModelPodWatch } from '../kube/deploy-manifests.ts';
import { describePullFailure } from '../kube/pod-status.ts';
import { PULL_SECRET_NAME } from '../kube/pull-secret.ts';
import { checkControllerImageRepo, expectedCaasImageRepo } from '../config/caas-image-repo.ts';
import { registryClientFor } from '../store/registry/client.ts';
import type { Credentials } from '../store/registry/credentials.ts';
import { settleConcurrently } from '../util/concurrency.ts';
import { locateCharm } from './charms.ts';
import type { DeployEvent, DeployEventListener } from './events.ts';
import { Juju, JujuCommandError } from './juju.ts';
import type { ModelState } from './juju-status.ts';
import { overlayText, parseSetting, type OptionSetting } from './overlay.ts';
import { planDeploy, type ConfigChange, type DeployPlan, type ReadyCharm } from './plan.ts';

export interface DeployOptions {
  /** A Juju bundle or an airgap.yaml. */
  target: string;
  /** HOST[:PORT][/PREFIX] */
  registry: string;
  placeholder?: string;
  output?: string;
  lockFile?: string;
  charmsDir?: string;
  caFiles?: readonly string[];
  certsDirs?: readonly string[];
  plainHttp?: readonly string[];
  credentials?: Credentials;
  dockerConfigPath?: string;
  dryRun?: boolean;
  strict?: boolean;
  model?: string;
  sets?: readonly string[];
  timeoutMs?: number;
  pollMs?: number;
  jujuPath?: string;
  /** Where and how the release's Kubernetes manifests are applied (--context, -n, --proxy, ...). */
  kubernetes?: KubeDeployOptions;
  signal?: AbortSignal;
  onEvent?: DeployEventListener;
}

export interface DeployResult {
  output: string | undefined;
  rewritten: RewrittenReference[];
  unreachable: UnreachableReference[];
  checkedImages: number;
  plan: DeployPlan;
  ran: string[];
  state: ModelState | undefined;
  /** The manifests' part; undefined when the release has none. */
  kubernetes: KubeDeployResult | undefined;
}

function findLock(options: DeployOptions, release: Release): string | undefined {
  if (options.lockFile !== undefined) return resolve(options.lockFile);
  return [join(release.baseDir, LOCK_FILE_NAME), resolve(LOCK_FILE_NAME)].find((p) => existsSync(p));
}

function describeKind(release: Release): string {
  switch (release.kind) {
    case 'image-list':
      return 'an image list: there is nothing to deploy (airgap load pushes the images)';
    default:
      return release.kind;
  }
}

interface BundleFacts {
  applications: string[];
  trust: boolean;
  /** Each application's options as the rewritten bundle sets them. */
  options: Map<string, Record<string, string | number | boolean>>;
}

async function bundleFacts(text: string, file: string, signal: AbortSignal | undefined): Promise<BundleFacts> {
  const first = (await parseYamlDocuments(file, text, { signal })).find((y) => y.doc.contents !== null);
  const doc = plainValue(first);
  const root = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  const apps = root['applications'] ?? root['services'];
  if (typeof apps !== 'object' || apps === null) throw new AirgapError(`${file} is not a Juju bundle: it has no applications:`);
  const entries = Object.entries(apps as Record<string, unknown>);
  const options = new Map<string, Record<string, string | number | boolean>>();
  for (const [name, app] of entries) {
    const raw = typeof app === 'object' && app !== null ? (app as { options?: unknown }).options : undefined;
    if (typeof raw !== 'object' || raw === null) continue;
    const scalars = Object.entries(raw as Record<string, unknown>).filter((e): e is [string, string | number | boolean] => ['string', 'number', 'boolean'].includes(typeof e[1]));
    options.set(name, Object.fromEntries(scalars));
  }
  return {
    applications: entries.map(([name]) => name),
    trust: entries.some(([, app]) => typeof app === 'object' && app !== null && (app as { trust?: unknown }).trust === true),
    options,
  };
}

/**
 * On a re-run the bundle is not deployed again over applications that exist: what changed in their options
 * (a new registry, a --set) is applied with `juju config`, one command per application, only where the model's
 * value differs.
 */
async function configChanges(juju: Juju, bundle: BundleFacts | undefined, settings: readonly OptionSetting[], existing: ReadonlySet<string>): Promise<ConfigChange[]> {
  const changes: ConfigChange[] = [];
  for (const application of bundle?.applications ?? []) {
    if (!existing.has(application)) continue;
    const wanted: Record<string, string | number | boolean> = { ...bundle?.options.get(application) };
    for (const s of settings) if (s.application === application) wanted[s.option] = s.value;
    if (Object.keys(wanted).length === 0) continue;
    const current = await juju.config(application);
    const changed = Object.fromEntries(Object.entries(wanted).filter(([key, value]) => current[key] === undefined || String(current[key]) !== String(value)));
    if (Object.keys(changed).length > 0) changes.push({ application, options: changed });
  }
  return changes;
}

/** Private references to prove, with where each is used; hub prefixes and ignored strings are not images. */
function referencesToCheck(rewritten: readonly RewrittenReference[], release: Release, lock: Lock | undefined, registry: string): Map<string, string[]> {
  const checks = new Map<string, string[]>();
  for (const r of rewritten) {
    if (release.ignore.includes(r.before)) continue;
    const ref = tryParseReference(r.after);
    if (ref === undefined) continue;
    const path = r.after.slice(registry.length + 1);
    const lockedWithoutTag = lock?.images.some((i) => i.path === `${path}:latest`) === true;
    if (ref.tag === undefined && ref.digest === undefined && !lockedWithoutTag && lock !== undefined) continue;
    if (ref.tag === undefined && ref.digest === undefined && lock === undefined) continue;
    const where = checks.get(r.after) ?? [];
    where.push(`${r.yamlPath} (line ${r.line})`);
    checks.set(r.after, where);
  }
  return checks;
}

/**
 * The offline side's last step: rewrite the release for the private registry, prove every image is
 * there, then drive Juju — the bundle, the extra charms, the relations — skipping what the model has,
 * and wait until everything is active.
 */
export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const emit: DeployEventListener = options.onEvent ?? (() => {});
  const release = await loadRelease(resolve(options.target), { signal: options.signal });
  if (release.kind === 'image-list') {
    throw new AirgapError(`${release.file} is ${describeKind(release)}`, { hint: 'give airgap deploy a Juju bundle, a Kubernetes manifest or an airgap.yaml' });
  }
  const lockPath = findLock(options, release);
  const lock = lockPath === undefined ? undefined : await readLock(lockPath);
  const placeholder = options.placeholder ?? release.placeholder ?? lock?.placeholder;
  if (placeholder === undefined) {
    throw new UsageError(`no placeholder registry host given or found for ${release.file}`, {
      hint: 'pass --placeholder HOST[:PORT] (e.g. 172.17.0.2:5000), or set placeholder: in airgap.yaml',
    });
  }
  const location = parseRegistryLocation(options.registry);
  const registry = location.prefix === undefined ? location.host : `${location.host}/${location.prefix}`;

  // References written without the placeholder that the release collected go to their private place too.
  const collected = new Map<string, string>();
  for (const image of lock?.images ?? []) {
    if (!image.reference.startsWith(`${placeholder}/`)) collected.set(image.reference, withRegistry(`x.invalid/${image.path}`, registry));
  }
  for (const mention of release.mentions) {
    const ref = tryParseReference(mention.reference);
    if (ref !== undefined && ref.host === undefined && mention.yamlPath.startsWith('images[')) collected.set(mention.reference, withRegistry(ref, registry));
  }
  const rewriteOptions: RewriteOptions = { placeholder, registry, collected, ignore: release.ignore };

  // Every file is rewritten first, each reference checked as it is: one that cannot be parsed stops
  // the deploy here, before anything is written, reported as rewritten, proved or deployed.
  const rewritten: RewrittenReference[] = [];
  const unreachable: UnreachableReference[] = [];
  let output: string | undefined;
  let bundle: BundleFacts | undefined;
  let bundleText: string | undefined;
  const rewrittenFiles: Extract<DeployEvent, { type: 'rewritten' }>[] = [];
  if (release.bundleFile !== undefined) {
    const text = await readFile(release.bundleFile, 'utf8');
    const result = await rewriteYamlText(release.bundleFile, text, rewriteOptions, options.signal);
    // What the model is compared with is the bundle as deployed: rewritten.
    bundle = await bundleFacts(result.text, release.bundleFile, options.signal);
    rewritten.push(...result.rewritten);
    unreachable.push(...result.unreachable);
    output = resolve(options.output ?? join(dirname(release.bundleFile), `${basename(release.bundleFile, extname(release.bundleFile))}.airgap.yaml`));
    if (output === release.bundleFile) throw new UsageError(`-o ${options.output}: that is the bundle itself; the original is never changed`);
    bundleText = result.text;
    rewrittenFiles.push({ type: 'rewritten', file: release.bundleFile, output: options.dryRun ? undefined : output, references: result.rewritten });
  }

  // Kubernetes manifests are rewritten like the bundle; the rewritten text is what gets applied.
  const manifests: ManifestText[] = [];
  for (const file of release.manifestFiles) {
    const result = await rewriteYamlText(file, await readFile(file, 'utf8'), rewriteOptions, options.signal);
    rewritten.push(...result.rewritten);
    unreachable.push(...result.unreachable);
    manifests.push({ file, text: result.text });
    rewrittenFiles.push({ type: 'rewritten', file, output: undefined, references: result.rewritten });
  }

  // The extra charms' resources and config, likewise.
  const charmValues = release.charms.map((c, index) => {
    const rewriteValue = (key: string, value: string | number | boolean, kind: 'resources' | 'config'): string | number | boolean => {
      if (typeof value !== 'string') return value;
      const r = rewriteString(value, rewriteOptions);
      const yamlPath = `charms[${index}].${kind}.${key}`;
      const invalid = r.invalid[0];
      if (invalid !== undefined) {
        throw new ReleaseFileError(release.file, `${yamlPath}: ${invalid.message}; it carries the placeholder ${placeholder} but cannot be rewritten`, {
          ...(c.line === undefined ? {} : { line: c.line }),
          hint: INVALID_REFERENCE_HINT,
        });
      }
      for (const f of r.found) rewritten.push({ yamlPath, line: c.line ?? 0, ...f });
      for (const u of r.unreachable) unreachable.push({ yamlPath, line: c.line ?? 0, reference: u });
      return r.value;
    };
    return {
      resources: Object.fromEntries(Object.entries(c.resources).map(([k, v]) => [k, String(rewriteValue(k, v, 'resources'))])),
      config: Object.fromEntries(Object.entries(c.config).map(([k, v]) => [k, rewriteValue(k, v, 'config')])),
    };
  });

  for (const event of rewrittenFiles) emit(event);
  if (output !== undefined && bundleText !== undefined && !options.dryRun) {
    await new AtomicFile(output).writeText(bundleText);
  }
  const credentials = options.credentials;
  const pullSecret = credentials !== undefined && 'password' in credentials ? { name: PULL_SECRET_NAME, registry: location.host, username: credentials.username, password: credentials.password } : undefined;
  if (manifests.length > 0) await preflightManifests({ manifests, options: { ...options.kubernetes }, pullSecret, signal: options.signal });

  const charmsDir = resolve(options.charmsDir ?? 'charms');
  const charms: ReadyCharm[] = [];
  for (const [index, c] of release.charms.entries()) {
    const file = options.dryRun ? c.charm : await locateCharm(c.charm, c.name, release.baseDir, charmsDir, lock);
    const values = charmValues[index] ?? { resources: {}, config: {} };
    charms.push({ application: c.name, file, ...values });
  }
  if (release.charms.length > 0) emit({ type: 'rewritten', file: release.file, output: undefined, references: rewritten.filter((r) => r.yamlPath.startsWith('charms[')) });
  if (unreachable.length > 0) {
    emit({ type: 'unreachable', file: release.bundleFile ?? release.file, references: unreachable });
    if (options.strict) {
      throw new AirgapError(`${unreachable.length} image reference(s) point at a registry the cluster cannot reach: ${unreachable.map((u) => `${u.reference} at ${u.yamlPath}`).join('; ')}`, {
        hint: 'list them under images: in airgap.yaml and collect again, or drop --strict',
      });
    }
  }

  // Proof before action: every image the rewritten release names is in the private registry.
  const checks = referencesToCheck(rewritten, release, lock, registry);
  const client = registryClientFor(options, { host: location.host, credentials: options.credentials });
  const problems: string[] = [];
  try {
    const settled = await settleConcurrently([...checks.entries()], 4, async ([reference, where]) => {
      const ref = parseReference(reference);
      const found = await client.host(location.host).headManifest(ref.name, ref.digest ?? ref.tag ?? 'latest', `image ${reference}`);
      const path = reference.slice(registry.length + 1);
      const locked = lock?.images.find((i) => i.path === path || i.path === `${path}:latest`);
      if (found === undefined) problems.push(`${reference} is missing (used at ${where.join(', ')})`);
      else if (locked !== undefined && locked.digest !== found.digest) problems.push(`${reference} is ${found.digest}, the lock says ${locked.digest} (used at ${where.join(', ')})`);
      emit({ type: 'image-checked', reference, digest: found?.digest, ok: found !== undefined && (locked === undefined || locked.digest === found.digest) });
    }, options.signal);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  } finally {
    await client.close();
  }
  if (problems.length > 0) {
    throw new AirgapError(`${problems.length} of ${checks.size} images are not in ${registry} as the release needs them; nothing was deployed: ${problems.join('; ')}`, {
      hint: `run \`airgap load --registry ${options.registry}\` with the archive of this release first`,
    });
  }

  const overlays: string[] = [];
  const settings = (options.sets ?? []).map(parseSetting);
  const knownApps = new Set([...(bundle?.applications ?? []), ...charms.map((c) => c.application)]);
  for (const s of settings) {
    if (!knownApps.has(s.application)) throw new UsageError(`--set ${s.application}.${s.option}: ${s.application} is not an application of this release`, { hint: `known: ${[...knownApps].sort().join(', ')}` });
    const extra = charms.find((c) => c.application === s.application);
    if (extra !== undefined) extra.config[s.option] = s.value;
  }
  const bundleSettings = settings.filter((s) => bundle?.applications.includes(s.application));
  if (bundleSettings.length > 0 && output !== undefined) {
    const overlay = output.replace(/\.ya?ml$/, '') + '.overlay.yaml';
    if (!options.dryRun) await new AtomicFile(overlay).writeText(overlayText(bundleSettings));
    overlays.push(overlay);
  }

  const juju = new Juju({
    ...(options.jujuPath === undefined ? {} : { jujuPath: options.jujuPath }),
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const input = {
    configChanges: [] as ConfigChange[],
    bundleFile: output ?? '',
    bundleApplications: bundle?.applications ?? [],
    trust: bundle?.trust ?? false,
    overlays,
    charms,
    relations: release.relations.map((r) => [r[0] ?? '', r[1] ?? ''] as const),
  };
  const hasJuju = bundle !== undefined || charms.length > 0;
  const timeoutMs = options.timeoutMs ?? 30 * 60 * 1000;
  const applyManifests = (): Promise<KubeDeployResult | undefined> => {
    if (manifests.length === 0) return Promise.resolve(undefined);
    return deployManifests({
      manifests,
      options: { ...options.kubernetes },
      pullSecret,
      dryRun: options.dryRun === true,
      optional: hasJuju,
      timeoutMs,
      pollMs: options.pollMs,
      signal: options.signal,
      onEvent: emit,
    });
  };
  if (options.dryRun) {
    const plan = planDeploy(input, juju, undefined);
    for (const action of plan.actions) {
      emit({ type: 'action', description: action.description, command: [juju.executable, ...action.command], skipped: false, reason: 'dry run' });
    }
    const kubernetes = await applyManifests();
    return { output, rewritten, unreachable, checkedImages: checks.size, plan, ran: [], state: undefined, kubernetes };
  }
  if (!hasJuju) {
    const kubernetes = await applyManifests();
    return { output, rewritten, unreachable, checkedImages: checks.size, plan: planDeploy(input, juju, undefined), ran: [], state: undefined, kubernetes };
  }

  await juju.version();
  // Every charm pod starts from Juju's own images, pulled from caas-image-repo: not the private registry
  // is an ImagePullBackOff later, unless the nodes mirror that registry to it, so a warning, not a stop.
  const imageRepo = await checkControllerImageRepo(juju, options.registry, options.signal);
  if ('error' in imageRepo) emit({ type: 'warning', message: `the controller's caas-image-repo could not be read (${imageRepo.error}); it must be ${expectedCaasImageRepo(options.registry)}` });
  else if (!imageRepo.ok) emit({ type: 'warning', message: `${imageRepo.detail}. Fix: ${imageRepo.fix ?? ''}` });
  const before = await juju.status();
  input.configChanges = await configChanges(juju, bundle, bundleSettings, new Set(before.applications.keys()));
  const plan = planDeploy(input, juju, before);
  const ran: string[] = [];
  for (const action of plan.actions) {
    emit({ type: 'action', description: action.description, command: [juju.executable, ...action.command], skipped: action.skip !== undefined, ...(action.skip === undefined ? {} : { reason: action.skip }) });
    if (action.skip !== undefined) continue;
    try {
      await juju.run(action.command);
    } catch (err: unknown) {
      const done = ran.length === 0 ? 'nothing had been changed before it' : `done before it: ${ran.join(', ')}`;
      if (err instanceof JujuCommandError) throw new AirgapError(`${action.description} failed: ${err.message}; ${done}`, { cause: err, hint: 'fix the cause and re-run: what exists is skipped' });
      throw new AirgapError(`${action.description} failed: ${messageOf(err)}; ${done}`, { cause: err });
    }
    ran.push(action.description);
  }
  // A Juju Kubernetes model is the namespace of its name: its pods are watched for pull failures meanwhile.
  const model = before.model ?? options.model?.split(':').at(-1)?.split('/').at(-1);
  const podWatch: ModelPodWatch | undefined = model === undefined ? undefined : await watchModelPods(options.kubernetes ?? {}, model, emit);
  let state: ModelState;
  try {
    state = await juju.waitForActive(plan.applications, {
      timeoutMs,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      onPoll: (_state, notReady) => emit({ type: 'waiting', applications: plan.applications, notReady }),
    });
  } catch (err: unknown) {
    const failing = podWatch?.stop() ?? [];
    if (failing.length === 0 || !(err instanceof AirgapError)) throw err;
    throw new AirgapError(`${err.message}; ${failing.length} container(s) cannot pull their image: ${failing.map(describePullFailure).join('; ')}`, { cause: err, ...(err.hint === undefined ? {} : { hint: err.hint }) });
  }
  podWatch?.stop();
  emit({ type: 'waited', applications: plan.applications });
  const kubernetes = await applyManifests();
  return { output, rewritten, unreachable, checkedImages: checks.size, plan, ran, state, kubernetes };
}
