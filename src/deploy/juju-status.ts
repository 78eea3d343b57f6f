/**
 * `juju status --format=json`, read into the little that deploy needs: per application its status, units and
 * relations. Juju 3.x lists an application's relations as endpoint -> [{related-application, interface, scope}];
 * Juju 2.9 as endpoint -> [application name]. Neither says which endpoint of the other side is used, so the two
 * halves of a relation are paired up here when that can be done without guessing.
 */
import { AirgapError } from '../errors.ts';

export interface UnitState {
  name: string;
  /** Workload status: active, waiting, maintenance, blocked, error, unknown. */
  workload: string;
  workloadMessage: string;
  /** Agent status: idle, executing, allocating, error, lost. */
  agent: string;
}

export interface ApplicationState {
  name: string;
  status: string;
  message: string;
  units: UnitState[];
  charm: string | undefined;
}

export type RelationKey = { a: string; aEndpoint: string | undefined; b: string; bEndpoint: string | undefined };

export interface ModelState {
  model: string | undefined;
  applications: Map<string, ApplicationState>;
  relations: RelationKey[];
}

/**
 * Something that is not (yet) active/idle. For a unit, `status` is Juju's own `workload/agent` notation
 * (`maintenance/executing`, `error/idle`); for an application, its application status, or `missing`.
 */
export interface NotReady {
  application: string;
  unit: string | undefined;
  status: string;
  message: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(what: string): AirgapError {
  return new AirgapError(`juju status --format=json printed something unexpected: ${what}`, {
    hint: 'check that `juju` is the Juju CLI (2.9 or 3.x) and that `juju status --format=json` works in this shell',
  });
}

function optionalObject(parent: JsonObject, key: string, path: string): JsonObject | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw malformed(`${path}.${key} is not an object`);
  return value;
}

function optionalString(parent: JsonObject, key: string, path: string): string | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw malformed(`${path}.${key} is not a string`);
  return value;
}

/**
 * A status block ({current, message, since}). Juju prints {"status-error": "..."} in its place when it could
 * not read the status; that is reported as `unknown` with the error as message, so a wait keeps polling.
 */
function statusInfo(parent: JsonObject, key: string, path: string): { current: string; message: string } {
  const block = optionalObject(parent, key, path);
  if (block === undefined) return { current: 'unknown', message: '' };
  const statusError = optionalString(block, 'status-error', `${path}.${key}`);
  if (statusError !== undefined) return { current: 'unknown', message: statusError };
  return {
    current: optionalString(block, 'current', `${path}.${key}`) || 'unknown',
    message: optionalString(block, 'message', `${path}.${key}`) ?? '',
  };
}

function unitState(name: string, raw: Json, path: string): UnitState {
  if (!isObject(raw)) throw malformed(`${path} is not an object`);
  const statusError = optionalString(raw, 'status-error', path);
  if (statusError !== undefined) return { name, workload: 'unknown', workloadMessage: statusError, agent: 'unknown' };
  const workload = statusInfo(raw, 'workload-status', path);
  const agent = statusInfo(raw, 'juju-status', path);
  return { name, workload: workload.current, workloadMessage: workload.message, agent: agent.current };
}

/** One application's view of one relation: its endpoint, the other application, the interface when known. */
interface RelationSide {
  app: string;
  endpoint: string;
  other: string;
  iface: string | undefined;
}

function relationSides(app: string, raw: JsonObject, path: string): RelationSide[] {
  const sides: RelationSide[] = [];
  for (const [endpoint, list] of Object.entries(raw)) {
    if (!Array.isArray(list)) throw malformed(`${path}.${endpoint} is not a list`);
    list.forEach((entry, index) => {
      if (typeof entry === 'string') {
        // Juju 2.9: the related application's name alone.
        sides.push({ app, endpoint, other: entry, iface: undefined });
        return;
      }
      if (!isObject(entry)) throw malformed(`${path}.${endpoint}[${index}] is neither a name nor an object`);
      const other = optionalString(entry, 'related-application', `${path}.${endpoint}[${index}]`);
      if (other === undefined) throw malformed(`${path}.${endpoint}[${index}] has no "related-application"`);
      sides.push({ app, endpoint, other, iface: optionalString(entry, 'interface', `${path}.${endpoint}[${index}]`) });
    });
  }
  return sides;
}

/**
 * Join the two halves of each relation. A half of A towards B pairs with a half of B towards A when it is the
 * only candidate (same interface, where Juju 3 gives one): with two relations between the same pair of
 * applications on the same interface, which endpoint of B goes with which of A is not in the output, so such
 * halves stay unpaired and the unknown endpoint stays `undefined` (it then matches any endpoint).
 */
function pairRelations(sides: RelationSide[]): RelationKey[] {
  const relations: RelationKey[] = [];
  const used = new Set<RelationSide>();
  for (const side of sides) {
    if (used.has(side)) continue;
    if (side.other === side.app) {
      // A peer relation is listed once, by its only application.
      used.add(side);
      relations.push({ a: side.app, aEndpoint: side.endpoint, b: side.app, bEndpoint: side.endpoint });
      continue;
    }
    const fits = (s: RelationSide, t: RelationSide): boolean => s.app === t.other && s.other === t.app && s.iface === t.iface;
    const candidates = sides.filter((s) => !used.has(s) && fits(s, side));
    const partner = candidates.length === 1 ? candidates[0] : undefined;
    // Pair only if this side is also the partner's only candidate: otherwise the choice would be a guess.
    if (partner !== undefined && sides.filter((s) => !used.has(s) && fits(s, partner)).length === 1) {
      used.add(side);
      used.add(partner);
      relations.push({ a: side.app, aEndpoint: side.endpoint, b: partner.app, bEndpoint: partner.endpoint });
      continue;
    }
    used.add(side);
    relations.push({ a: side.app, aEndpoint: side.endpoint, b: side.other, bEndpoint: undefined });
  }
  return relations;
}

export function parseJujuStatus(json: string): ModelState {
  let root: Json;
  try {
    root = JSON.parse(json) as Json;
  } catch (err: unknown) {
    const start = json.trim().slice(0, 80);
    throw new AirgapError(`juju status --format=json did not print JSON${start === '' ? ' (it printed nothing)' : `: ${JSON.stringify(start)}`}`, {
      cause: err,
      hint: 'check that `juju` is the Juju CLI (2.9 or 3.x) and that `juju status --format=json` works in this shell',
    });
  }
  if (!isObject(root)) throw malformed('the output is not a JSON object');
  const modelBlock = optionalObject(root, 'model', '');
  const model = modelBlock === undefined ? undefined : optionalString(modelBlock, 'name', 'model');
  // An empty model has `"applications": {}`; an absent key means this is not status output at all.
  if (!('applications' in root)) throw malformed('no "applications" object');
  const apps = optionalObject(root, 'applications', '') ?? {};

  const applications = new Map<string, ApplicationState>();
  const sides: RelationSide[] = [];
  const subordinateUnits: UnitState[] = [];
  for (const [name, raw] of Object.entries(apps)) {
    const path = `applications.${name}`;
    if (!isObject(raw)) throw malformed(`${path} is not an object`);
    const appError = optionalString(raw, 'status-error', path);
    const status = appError === undefined ? statusInfo(raw, 'application-status', path) : { current: 'unknown', message: appError };
    const units: UnitState[] = [];
    for (const [unitName, unitRaw] of Object.entries(optionalObject(raw, 'units', path) ?? {})) {
      units.push(unitState(unitName, unitRaw, `${path}.units.${unitName}`));
      // Subordinate units are listed under their principal unit, not under their own application.
      if (!isObject(unitRaw)) continue;
      for (const [subName, subRaw] of Object.entries(optionalObject(unitRaw, 'subordinates', `${path}.units.${unitName}`) ?? {})) {
        subordinateUnits.push(unitState(subName, subRaw, `${path}.units.${unitName}.subordinates.${subName}`));
      }
    }
    applications.set(name, {
      name,
      status: status.current,
      message: status.message,
      units,
      charm: optionalString(raw, 'charm', path),
    });
    sides.push(...relationSides(name, optionalObject(raw, 'relations', path) ?? {}, `${path}.relations`));
  }
  for (const unit of subordinateUnits) {
    applications.get(applicationOfUnit(unit.name))?.units.push(unit);
  }
  return { model, applications, relations: pairRelations(sides) };
}

function applicationOfUnit(unit: string): string {
  const slash = unit.lastIndexOf('/');
  return slash < 0 ? unit : unit.slice(0, slash);
}

function splitEndpoint(spec: string): { app: string; endpoint: string | undefined } {
  const colon = spec.indexOf(':');
  if (colon < 0) return { app: spec, endpoint: undefined };
  return { app: spec.slice(0, colon), endpoint: spec.slice(colon + 1) || undefined };
}

/**
 * Is `a` related to `b`? Each may be `app` or `app:endpoint`; the order does not matter. An endpoint left out
 * (by the caller, or by Juju's output) matches any endpoint.
 */
export function hasRelation(state: ModelState, a: string, b: string): boolean {
  const qa = splitEndpoint(a);
  const qb = splitEndpoint(b);
  const side = (app: string, endpoint: string | undefined, q: { app: string; endpoint: string | undefined }): boolean =>
    app === q.app && (endpoint === undefined || q.endpoint === undefined || endpoint === q.endpoint);
  return state.relations.some(
    (r) => (side(r.a, r.aEndpoint, qa) && side(r.b, r.bEndpoint, qb)) || (side(r.a, r.aEndpoint, qb) && side(r.b, r.bEndpoint, qa)),
  );
}

function unitReady(unit: UnitState): boolean {
  return unit.workload === 'active' && unit.agent === 'idle';
}

/**
 * Every one of `apps` (and its units) that is not active/idle, in the order given. A unit is listed by itself;
 * its application is listed too only when none of its units explains why it is not active (a missing
 * application, an application-level status set by the charm, or no units yet).
 */
export function notReady(state: ModelState, apps: readonly string[]): NotReady[] {
  const result: NotReady[] = [];
  for (const name of apps) {
    const app = state.applications.get(name);
    if (app === undefined) {
      result.push({ application: name, unit: undefined, status: 'missing', message: 'not in the model' });
      continue;
    }
    const units = app.units.filter((u) => !unitReady(u));
    for (const unit of units) {
      result.push({ application: name, unit: unit.name, status: `${unit.workload}/${unit.agent}`, message: unit.workloadMessage });
    }
    if (app.status !== 'active' && units.length === 0) {
      result.push({ application: name, unit: undefined, status: app.status, message: app.message });
    }
  }
  return result;
}

/**
 * What among `apps` is in `error` (workload or agent), which will not fix itself: a failed hook, a pod that
 * cannot start. `blocked` is not listed: charms report it while waiting for a relation still being added, so
 * a wait treats it as not ready and names it only when the time is up.
 */
export function inError(state: ModelState, apps: readonly string[]): NotReady[] {
  const result: NotReady[] = [];
  for (const name of apps) {
    const app = state.applications.get(name);
    if (app === undefined) continue;
    const units = app.units.filter((u) => u.workload === 'error' || u.agent === 'error');
    for (const unit of units) {
      result.push({ application: name, unit: unit.name, status: `${unit.workload}/${unit.agent}`, message: unit.workloadMessage });
    }
    if (app.status === 'error' && units.length === 0) {
      result.push({ application: name, unit: undefined, status: app.status, message: app.message });
    }
  }
  return result;
}
