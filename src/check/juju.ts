/**
 * `airgap check`, Juju part: the CLI is there (and which version), and `juju status` reaches the
 * controller and the model. A missing juju is only a warning unless --juju named it: a release may be
 * all Kubernetes manifests.
 */
import { AirgapError, messageOf } from '../errors.ts';
import { checkControllerImageRepo } from '../config/caas-image-repo.ts';
import { Juju, JujuCommandError } from '../deploy/juju.ts';
import { result, type CheckResult } from './types.ts';

export interface JujuCheckOptions {
  /** --juju PATH; when given, a juju that cannot be run is a failure. */
  jujuPath?: string | undefined;
  /** -m MODEL */
  model?: string | undefined;
  /** --registry: the controller's caas-image-repo is compared with it. */
  registry?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** For each juju command; default 30 s (a controller that cannot be reached makes juju wait long). */
  timeoutMs?: number;
}

interface StatusModel {
  name?: unknown;
  controller?: unknown;
  cloud?: unknown;
  type?: unknown;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

export async function checkJuju(options: JujuCheckOptions): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const timeoutMs = options.timeoutMs ?? 30_000;
  const juju = (): Juju => new Juju({
    ...(options.jujuPath === undefined ? {} : { jujuPath: options.jujuPath }),
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.env === undefined ? {} : { env: options.env }),
    signal: AbortSignal.timeout(timeoutMs),
  });

  let version: string;
  try {
    version = await juju().version();
  } catch (err: unknown) {
    const explicit = options.jujuPath !== undefined;
    const notFound = err instanceof AirgapError && /juju (not found|is not executable)/.test(err.message);
    const detail = notFound ? `${err.message}: the Juju part of a release cannot be deployed from here` : `juju version failed: ${isTimeout(err) ? `no answer within ${timeoutMs / 1000}s` : messageOf(err)}`;
    out.push(result('juju', explicit || !notFound ? 'fail' : 'warn', 'juju found', detail, 'install the juju snap (snap download juju, carried across), or pass --juju PATH'));
    return out;
  }
  out.push(result('juju', 'ok', 'juju found', `${juju().executable} ${version}`));

  let stdout: string;
  const command = juju();
  try {
    ({ stdout } = await command.run(command.statusCommand()));
  } catch (err: unknown) {
    const said = err instanceof JujuCommandError ? err.stderrTail.join(' ') : isTimeout(err) ? `no answer within ${timeoutMs / 1000}s` : messageOf(err);
    if (/model .*not found/i.test(said)) {
      out.push(result('juju', 'ok', 'controller reachable', 'juju status reached the controller'));
      out.push(result('juju', 'fail', 'model', `model ${options.model ?? '(current)'} not found: ${said}`, `create it with juju add-model ${options.model ?? 'NAME'}, or pass -m with an existing model`));
    } else if (/no (current )?controller|no controllers/i.test(said)) {
      out.push(result('juju', 'fail', 'controller reachable', `no controller is known to this juju: ${said}`, 'bootstrap one (juju bootstrap microk8s) or register it (juju register)'));
    } else if (/no (current )?model|no model/i.test(said)) {
      out.push(result('juju', 'ok', 'controller reachable', 'juju status reached the controller'));
      out.push(result('juju', 'fail', 'model', `no model selected: ${said}`, 'pass -m MODEL, or juju switch to one'));
    } else {
      out.push(result('juju', 'fail', 'controller reachable', `juju status failed: ${said}`, 'check that the controller is up and reachable from here: juju status'));
    }
    return out;
  }
  let model: StatusModel = {};
  let applications = 0;
  try {
    const parsed = JSON.parse(stdout) as { model?: StatusModel; applications?: Record<string, unknown> };
    model = parsed.model ?? {};
    applications = Object.keys(parsed.applications ?? {}).length;
  } catch {
    out.push(result('juju', 'fail', 'controller reachable', 'juju status --format=json did not print JSON', 'check that juju is the Juju CLI 2.9 or 3.x'));
    return out;
  }
  const text = (v: unknown): string => (typeof v === 'string' && v !== '' ? v : '?');
  out.push(result('juju', 'ok', 'controller reachable', `controller ${text(model.controller)} (cloud ${text(model.cloud)})`));
  out.push(result('juju', 'ok', 'model', `model ${text(model.name)} (${text(model.type)}, ${applications} application${applications === 1 ? '' : 's'})`));
  // Only Kubernetes models pull Juju's own images (from caas-image-repo).
  if (options.registry !== undefined && (model.type === undefined || model.type === 'caas')) {
    const verdict = await checkControllerImageRepo(juju(), options.registry);
    if ('error' in verdict) out.push(result('juju', 'warn', 'caas-image-repo', `cannot read the controller config: ${verdict.error}`, 'juju controller-config caas-image-repo must be REGISTRY/jujusolutions; check it by hand'));
    else out.push(result('juju', verdict.ok ? 'ok' : 'warn', 'caas-image-repo', verdict.detail, verdict.fix));
  }
  return out;
}
