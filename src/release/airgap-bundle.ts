/**
 * The air-gapped bundle, generated from a stock one: what Canonical's procedure writes by hand for each
 * release (`deploy-1.9.sh`, `bundle-airgap.yaml`). Each application's charm becomes its carried file, every
 * oci-image resource and every option whose default holds an image points at the placeholder, the options
 * airgap.yaml's `config:` sets are set (their images on the placeholder too), and all the rest — scale, trust,
 * constraints, other options, relations, comments — stays as the stock bundle has it.
 */
import { isMap, isScalar, Scalar, stringify } from 'yaml';
import type { Document, YAMLMap } from 'yaml';
import { parseSmallYaml } from '../yaml/documents.ts';
import { rewriteString } from '../bundle/rewrite.ts';
import type { CharmScan } from '../charm/scan.ts';
import { ReleaseFileError } from '../errors.ts';
import { parseReference } from '../reference.ts';
import { BUNDLE_APPLICATION_KEYS } from './bundle.ts';
import { hubAt } from './option-images.ts';
import { findImageReferences } from './strings.ts';
import { closest } from './suggest.ts';
import type { BundleOptionSetting } from './types.ts';

/** The name of the generated bundle in charms.tar.gz. */
export const AIRGAP_BUNDLE_FILE = 'bundle-airgap.yaml';
/**
 * The placeholder host of a generated bundle when the release names none: a reserved name (RFC 2606) that
 * never resolves, so a bundle deployed without the rewrite fails at once instead of reaching anybody's network.
 */
export const DEFAULT_PLACEHOLDER = 'registry.airgap.invalid';

export interface CarriedCharm {
  applications: readonly string[];
  charm: string;
  channel: string | undefined;
  revision: number | undefined;
  file: string;
  scan: CharmScan;
}

export interface AirgapBundleInput {
  /** The stock bundle: its path (for messages) and text. */
  file: string;
  text: string;
  charms: readonly CarriedCharm[];
  placeholder: string;
  /** Exact strings never collected (airgap.yaml ignore:): not redirected either. */
  ignore: readonly string[];
  /** airgap.yaml's `config:`: set last, over what the charms' defaults and the stock bundle say. */
  options?: readonly BundleOptionSetting[];
}

export interface AirgapBundle {
  text: string;
  /** Images carried that no option of their charm redirects: the charm may still pull them upstream. */
  warnings: string[];
}

function atPlaceholder(reference: string, placeholder: string): string {
  return `${placeholder}/${parseReference(reference).path}`;
}

function applicationsOf(doc: Document): YAMLMap | undefined {
  for (const key of BUNDLE_APPLICATION_KEYS) {
    const apps = doc.get(key);
    if (isMap(apps)) return apps;
  }
  return undefined;
}

function mapOf(doc: Document, app: YAMLMap, key: string): YAMLMap {
  const existing = app.get(key);
  if (isMap(existing)) return existing;
  const created = doc.createNode({}) as YAMLMap;
  app.set(key, created);
  return created;
}

function isSet(map: YAMLMap, key: string): boolean {
  const value = map.get(key, true);
  return value !== undefined && !(isScalar(value) && value.value === null);
}

/** The keys of an option default that is a YAML/JSON map (a custom-images option), else undefined. */
function mapKeys(text: string): string[] | undefined {
  try {
    const contents = parseSmallYaml('an option default', text, { uniqueKeys: false })[0]?.doc.contents;
    if (!isMap(contents)) return undefined;
    return contents.items.flatMap((pair) => (isScalar(pair.key) ? [String(pair.key.value)] : []));
  } catch {
    return undefined;
  }
}

export function generateAirgapBundle(input: AirgapBundleInput): AirgapBundle {
  // A syntax error, or a limit passed, is the shared reader's ReleaseFileError at its line.
  const doc = parseSmallYaml(input.file, input.text, { uniqueKeys: false })[0]?.doc;
  const apps = doc === undefined ? undefined : applicationsOf(doc);
  if (doc === undefined || apps === undefined) throw new ReleaseFileError(input.file, 'not a Juju bundle: it has no applications:');
  const ignored = new Set(input.ignore);
  const warnings: string[] = [];

  for (const carried of input.charms) {
    const { scan } = carried;
    for (const name of carried.applications) {
      const app = apps.get(name);
      if (!isMap(app)) continue;
      const charm = new Scalar(`./${carried.file}`);
      charm.comment = ` ${carried.charm}${carried.channel === undefined ? '' : ` ${carried.channel}`}${carried.revision === undefined ? '' : `, revision ${carried.revision}`}, from Charmhub`;
      app.set('charm', charm);
      // A local charm has no channel or store revision: Juju refuses both.
      app.delete('channel');
      app.delete('revision');

      const resources = scan.resources.filter((r) => r.upstreamSource !== undefined && !ignored.has(r.upstreamSource));
      if (resources.length > 0) {
        const map = mapOf(doc, app, 'resources');
        for (const r of resources) {
          // An image the bundle names itself is kept (collect carried it); a store revision number is not usable offline.
          const current = map.get(r.name);
          if (typeof current === 'string' && /[/:]/.test(current)) continue;
          map.set(r.name, atPlaceholder(r.upstreamSource ?? '', input.placeholder));
        }
      }

      const options = isMap(app.get('options')) ? (app.get('options') as YAMLMap) : undefined;
      const settings = new Map<string, string>();
      // Defaults that hold images: the same text, with only the images (and the hubs that build them) moved.
      for (const option of scan.options) {
        if (typeof option.default !== 'string' || (options !== undefined && isSet(options, option.name))) continue;
        const images = scan.images.filter((i) => i.kind === 'option' && i.owner === option.name && !i.built && !ignored.has(i.reference));
        const hubs = scan.hubs.filter((h) => h.option === option.name);
        if (images.length === 0 && hubs.length === 0) continue;
        const moved = new Map<string, string>();
        for (const i of images) moved.set(i.reference, atPlaceholder(i.reference, input.placeholder));
        for (const h of hubs) moved.set(h.hub, hubAt(h.hub, input.placeholder));
        settings.set(option.name, rewriteString(option.default, { placeholder: input.placeholder, registry: input.placeholder, collected: moved }).value);
      }
      // Images in data files (default-custom-images.json): an option whose default is a map with the same keys
      // overrides them, as Canonical's custom_images options do; that option is set to every one of them.
      const byOption = new Map<string, Map<string, string>>();
      for (const image of scan.images.filter((i) => i.kind === 'data' && !ignored.has(i.reference))) {
        const option = image.mapKey === undefined ? undefined : scan.options.find((o) => typeof o.default === 'string' && mapKeys(o.default)?.includes(image.mapKey ?? '') === true);
        if (option === undefined || image.mapKey === undefined) {
          warnings.push(`${name}: ${image.reference} (${carried.file} ${image.member} ${image.key}) is carried, but no option of ${carried.charm} redirects it: the charm may pull it from upstream`);
          continue;
        }
        if (options !== undefined && isSet(options, option.name)) continue;
        const map = byOption.get(option.name) ?? new Map<string, string>();
        map.set(image.mapKey, atPlaceholder(image.reference, input.placeholder));
        byOption.set(option.name, map);
      }
      for (const [option, map] of byOption) settings.set(option, stringify(Object.fromEntries(map)));
      if (settings.size > 0) {
        const target = mapOf(doc, app, 'options');
        for (const [key, value] of settings) target.set(key, value);
      }
    }
  }
  for (const setting of input.options ?? []) {
    const app = apps.get(setting.application);
    if (!isMap(app)) {
      const known = apps.items.flatMap((pair) => (isScalar(pair.key) ? [String(pair.key.value)] : []));
      const near = closest(setting.application, known);
      throw new ReleaseFileError(setting.file, `config.${setting.application}: ${input.file.split('/').at(-1) ?? input.file} has no application ${setting.application}`, {
        ...(setting.line === undefined ? {} : { line: setting.line }),
        hint: near === undefined ? `its applications are: ${known.join(', ')}` : `did you mean ${near}?`,
      });
    }
    let value = setting.value;
    if (typeof value === 'string') {
      // Only the images move; the text around them (a YAML or JSON map of images) stays as written.
      const moved = new Map<string, string>();
      for (const reference of findImageReferences(value, { placeholder: input.placeholder })) {
        if (!ignored.has(reference)) moved.set(reference, atPlaceholder(reference, input.placeholder));
      }
      value = rewriteString(value, { placeholder: input.placeholder, registry: input.placeholder, collected: moved }).value;
    }
    mapOf(doc, app, 'options').set(setting.option, value);
  }
  const header = `# Generated by airgap collect from ${input.file.split('/').at(-1) ?? input.file}: every charm is the file carried\n` +
    `# beside it, every image is on the placeholder ${input.placeholder} (airgap deploy --registry rewrites it).\n`;
  return { text: header + doc.toString({ lineWidth: 0 }), warnings };
}
