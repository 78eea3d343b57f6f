import { AirgapError } from '../errors.ts';
import { hasRelation, type ModelState } from './juju-status.ts';
import type { Juju, JujuCommand } from './juju.ts';

/** An extra charm ready to deploy: its file found and checked, its values rewritten. */
export interface ReadyCharm {
  application: string;
  file: string;
  resources: Record<string, string>;
  config: Record<string, string | number | boolean>;
}

/** Options of an existing application that differ from what the release sets. */
export interface ConfigChange {
  application: string;
  options: Record<string, string | number | boolean>;
}

export interface DeployInput {
  /** Applied with `juju config` to applications that exist already (empty on a first deploy). */
  configChanges?: readonly ConfigChange[];
  bundleFile: string;
  bundleApplications: readonly string[];
  trust: boolean;
  overlays: readonly string[];
  charms: readonly ReadyCharm[];
  relations: readonly (readonly [string, string])[];
}

export interface PlannedAction {
  description: string;
  command: JujuCommand;
  /** Why nothing needs doing, when the model already has it. */
  skip: string | undefined;
}

export interface DeployPlan {
  actions: PlannedAction[];
  /** Every application to wait for. */
  applications: string[];
}

function appOf(side: string): string {
  return side.split(':')[0] ?? side;
}

/** Relations must name applications this deploy knows: a typo here would fail after half the work. */
export function checkRelations(input: DeployInput): void {
  const known = new Set([...input.bundleApplications, ...input.charms.map((c) => c.application)]);
  for (const [a, b] of input.relations) {
    for (const side of [a, b]) {
      if (!known.has(appOf(side))) {
        throw new AirgapError(`relation ${a} <-> ${b} names application ${appOf(side)}, which is neither in the bundle nor among the extra charms`, {
          hint: `known applications: ${[...known].sort().join(', ')}`,
        });
      }
    }
  }
}

/**
 * What to run, in order: the bundle, each extra charm, each relation; each marked to skip when the model
 * (when we know it) already has it. Pure: it runs nothing.
 */
export function planDeploy(input: DeployInput, juju: Juju, state: ModelState | undefined): DeployPlan {
  checkRelations(input);
  const exists = (app: string): boolean => state?.applications.has(app) === true;
  const actions: PlannedAction[] = [];
  const missing = input.bundleApplications.filter((a) => !exists(a));
  // An airgap.yaml may carry only extra charms: then there is no bundle to deploy.
  if (input.bundleApplications.length > 0) {
    actions.push({
      description: `deploy the bundle (${input.bundleApplications.length} applications)`,
      command: juju.deployBundleCommand(input.bundleFile, { trust: input.trust, overlays: [...input.overlays] }),
      skip: state !== undefined && missing.length === 0 ? 'every application of the bundle exists' : undefined,
    });
  }
  for (const change of input.configChanges ?? []) {
    const keys = Object.keys(change.options);
    actions.push({
      description: `set ${keys.length} changed option${keys.length === 1 ? '' : 's'} of ${change.application} (${keys.join(', ')})`,
      command: juju.configCommand(change.application, change.options),
      skip: undefined,
    });
  }
  for (const charm of input.charms) {
    actions.push({
      description: `deploy ${charm.application}`,
      command: juju.deployCharmCommand(charm.file, charm.application, { resources: charm.resources, config: charm.config }),
      skip: exists(charm.application) ? `${charm.application} exists` : undefined,
    });
  }
  for (const [a, b] of input.relations) {
    actions.push({
      description: `relate ${a} ${b}`,
      command: juju.relateCommand(a, b),
      skip: state !== undefined && hasRelation(state, a, b) ? 'the relation exists' : undefined,
    });
  }
  return { actions, applications: [...input.bundleApplications, ...input.charms.map((c) => c.application)] };
}
