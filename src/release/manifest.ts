/**
 * airgap.yaml, the release manifest: parsed and checked key by key, every complaint pointing at the
 * line and column to fix. Files it names are resolved here but read by the caller.
 */
import path from 'node:path';
import { isScalar } from 'yaml';
import type { Scalar, YAMLMap } from 'yaml';
import { messageOf } from '../errors.ts';
import { parseReference, parseRegistryLocation } from '../reference.ts';
import type { Candidate } from './mentions.ts';
import { findImageReferences, isResourceImage } from './strings.ts';
import { closest } from './suggest.ts';
import type { BundleOptionSetting, CharmSpec } from './types.ts';
import { asMap, asSeq, deref, describeNode, entries, errorAt, lineOf, positionOf, scalarText, stringValue } from './yaml.ts';
import type { Entry, YamlDoc } from './yaml.ts';

export const MANIFEST_KEYS = ['name', 'version', 'placeholder', 'upstream', 'bundle', 'config', 'charms', 'relations', 'images', 'ignore', 'manifests', 'platforms'] as const;
const CHARM_KEYS = ['name', 'charm', 'sha256', 'resources', 'config'] as const;

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;
const SHA256_HEX = /^[a-f0-9]{64}$/;

/** A file named in airgap.yaml, with where it is named. */
export interface NamedFile {
  /** As written. */
  written: string;
  /** Resolved against the manifest's directory. */
  resolved: string;
  line: number | undefined;
  column: number | undefined;
}

export interface ManifestSpec {
  name: string | undefined;
  version: string;
  placeholder: string | undefined;
  upstream: Record<string, string>;
  bundle: NamedFile | undefined;
  /** `config:`: options of the bundle's applications; `configLine` is where the key is, for errors about it. */
  bundleOptions: BundleOptionSetting[];
  configLine: number | undefined;
  charms: CharmSpec[];
  relations: string[][];
  images: string[];
  ignore: string[];
  manifests: NamedFile[];
  platforms: string[];
  /** Images of the extra charms and of `images:`, in file order. */
  candidates: Candidate[];
}

export function isManifestMap(y: YamlDoc, map: YAMLMap): boolean {
  const known: readonly string[] = MANIFEST_KEYS;
  return entries(y, map).some((entry) => known.includes(entry.key));
}

export function parseManifest(y: YamlDoc): ManifestSpec {
  const root = asMap(y.doc.contents);
  if (root === undefined) throw errorAt(y, y.doc.contents, `airgap.yaml must be a mapping, found ${describeNode(y.doc.contents)}`);
  const baseDir = path.dirname(y.file);
  const spec: ManifestSpec = {
    name: undefined, version: '', placeholder: undefined, upstream: {}, bundle: undefined, bundleOptions: [], configLine: undefined, charms: [], relations: [],
    images: [], ignore: [], manifests: [], platforms: [], candidates: [],
  };
  const all = entries(y, root);
  checkKeys(y, all, MANIFEST_KEYS, 'airgap.yaml');
  // The placeholder decides which option tokens are images, so it is read before anything is scanned.
  const placeholderEntry = all.find((entry) => entry.key === 'placeholder');
  if (placeholderEntry !== undefined) spec.placeholder = readPlaceholder(y, placeholderEntry);

  for (const entry of all) {
    switch (entry.key) {
      case 'name':
        spec.name = text(y, entry, 'name');
        break;
      case 'version':
        spec.version = text(y, entry, 'version');
        break;
      case 'upstream':
        spec.upstream = readUpstream(y, entry);
        break;
      case 'bundle': {
        const written = text(y, entry, 'bundle');
        const pos = positionOfValue(y, entry);
        spec.bundle = { written, resolved: path.resolve(baseDir, written), ...pos };
        break;
      }
      case 'config':
        spec.bundleOptions = readBundleOptions(y, entry, spec);
        spec.configLine = lineOf(y, entry.keyNode);
        break;
      case 'charms':
        spec.charms = readCharms(y, entry, spec);
        break;
      case 'relations':
        spec.relations = readRelations(y, entry);
        break;
      case 'images':
        for (const { value, node, index } of strings(y, entry)) {
          try {
            parseReference(value);
          } catch (err: unknown) {
            throw errorAt(y, node, `images[${index}]: ${messageOf(err)}`, undefined, err);
          }
          spec.images.push(value);
          spec.candidates.push({ reference: value, file: y.file, yamlPath: `images[${index}]`, line: lineOf(y, node), origin: 'listed' });
        }
        break;
      case 'ignore':
        spec.ignore = strings(y, entry).map((item) => item.value);
        break;
      case 'manifests': {
        const single = stringValue(entry.value);
        const items = single === undefined ? strings(y, entry) : [{ value: single, node: entry.value, index: 0 }];
        spec.manifests = items.map(({ value, node }) => ({ written: value, resolved: path.resolve(baseDir, value), ...position(y, node) }));
        break;
      }
      case 'platforms':
        spec.platforms = strings(y, entry).map(({ value, node }) => {
          if (!PLATFORM.test(value)) throw errorAt(y, node, `platforms: "${value}" is not OS/ARCH[/VARIANT]`, 'write it like linux/amd64 or linux/arm/v7');
          return value;
        });
        break;
    }
  }

  if (spec.bundleOptions.length > 0 && spec.bundle === undefined) {
    const entry = all.find((e) => e.key === 'config');
    throw errorAt(y, entry?.keyNode, 'config: sets options of the bundle\'s applications, but there is no bundle:', 'name the stock bundle with bundle:, or set an extra charm\'s options under its charms: entry');
  }
  const ignored = new Set(spec.ignore);
  const both = spec.images.find((image) => ignored.has(image));
  if (both !== undefined) {
    const entry = all.find((e) => e.key === 'ignore');
    throw errorAt(y, entry?.keyNode, `${both} is both in images: and in ignore:`, 'remove it from one of the two');
  }
  return spec;
}

function position(y: YamlDoc, node: unknown): { line: number | undefined; column: number | undefined } {
  const pos = positionOf(y, node);
  return { line: pos?.line, column: pos?.column };
}

function positionOfValue(y: YamlDoc, entry: Entry): { line: number | undefined; column: number | undefined } {
  return position(y, entry.value ?? entry.keyNode);
}

/** Reject keys that are not in `known`, suggesting the closest known one. */
function checkKeys(y: YamlDoc, all: readonly Entry[], known: readonly string[], where: string): void {
  const seen = new Set<string>();
  for (const entry of all) {
    if (known.includes(entry.key)) {
      seen.add(entry.key);
      continue;
    }
    const guess = closest(entry.key, known.filter((key) => !seen.has(key)));
    throw errorAt(
      y,
      entry.keyNode,
      `unknown key "${entry.key}" in ${where}${guess === undefined ? '' : ` (did you mean "${guess}"?)`}`,
      `the known keys are: ${known.join(', ')}`,
    );
  }
}

/** A scalar as text; numbers are kept as written (`version: 1.10` is "1.10"). */
function text(y: YamlDoc, entry: Entry, what: string): string {
  const node = entry.value;
  if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
    throw errorAt(y, node ?? entry.keyNode, `${what} must be a string, found ${describeNode(node)}`);
  }
  return scalarText(node);
}

function strings(y: YamlDoc, entry: Entry): { value: string; node: unknown; index: number }[] {
  const seq = asSeq(entry.value);
  if (seq === undefined) throw errorAt(y, entry.value ?? entry.keyNode, `${entry.key} must be a list of strings, found ${describeNode(entry.value)}`);
  return seq.items.map((item, index) => {
    const node = deref(y, item);
    const value = stringValue(node);
    if (value === undefined) throw errorAt(y, node, `${entry.key}[${index}] must be a string, found ${describeNode(node)}`);
    return { value, node, index };
  });
}

function readPlaceholder(y: YamlDoc, entry: Entry): string {
  const value = text(y, entry, 'placeholder');
  let location: { host: string; prefix: string | undefined };
  try {
    location = parseRegistryLocation(value);
  } catch (err: unknown) {
    throw errorAt(y, entry.value, `placeholder: ${messageOf(err)}`, undefined, err);
  }
  if (location.prefix !== undefined) {
    throw errorAt(y, entry.value, `placeholder "${value}" must be a host (HOST[:PORT]) without a path`, `use placeholder: ${location.host}`);
  }
  return value;
}

function readUpstream(y: YamlDoc, entry: Entry): Record<string, string> {
  const map = asMap(entry.value);
  if (map === undefined) {
    throw errorAt(y, entry.value ?? entry.keyNode, `upstream must be a mapping of path prefixes to registries, found ${describeNode(entry.value)}`, 'write it like upstream: { "*": docker.io, "ml-pipeline/": gcr.io }');
  }
  const upstream: Record<string, string> = {};
  for (const item of entries(y, map)) {
    const value = text(y, item, `upstream "${item.key}"`);
    try {
      parseRegistryLocation(value);
    } catch (err: unknown) {
      throw errorAt(y, item.value, `upstream "${item.key}": ${messageOf(err)}`, undefined, err);
    }
    upstream[item.key] = value;
  }
  return upstream;
}

function readRelations(y: YamlDoc, entry: Entry): string[][] {
  const seq = asSeq(entry.value);
  if (seq === undefined) throw errorAt(y, entry.value ?? entry.keyNode, `relations must be a list of [app, app] pairs, found ${describeNode(entry.value)}`);
  return seq.items.map((item, index) => {
    const node = deref(y, item);
    const pair = asSeq(node)?.items.map((end) => stringValue(deref(y, end)));
    if (pair === undefined || pair.length !== 2 || pair.some((end) => end === undefined || end === '')) {
      throw errorAt(y, node, `relations[${index}] must be a list of two application[:endpoint] strings, found ${describeNode(node)}`, 'write it like [kfp-api:object-storage, minio:object-storage]');
    }
    return pair.filter((end): end is string => end !== undefined);
  });
}

/** A string option value: the images it holds (plain, or inside YAML/JSON text such as custom_images) are found. */
function optionValue(y: YamlDoc, option: { key: string; keyNode: unknown; value: Scalar | null }, where: string, spec: ManifestSpec): string | number | boolean {
  const value = option.value?.value;
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw errorAt(y, option.value ?? option.keyNode, `${where}.${option.key} must be a string, number or boolean`);
  }
  if (typeof value === 'string') {
    for (const reference of findImageReferences(value, { placeholder: spec.placeholder })) {
      spec.candidates.push({ reference, file: y.file, yamlPath: `${where}.${option.key}`, line: lineOf(y, option.value), origin: 'found' });
    }
  }
  return value;
}

/** `config: { APP: { OPTION: VALUE } }`: options of the bundle's applications, in file order. */
function readBundleOptions(y: YamlDoc, entry: Entry, spec: ManifestSpec): BundleOptionSetting[] {
  const map = asMap(entry.value);
  if (map === undefined) throw errorAt(y, entry.value ?? entry.keyNode, `config must be a mapping of application: {option: value}, found ${describeNode(entry.value)}`, 'write it like config: { knative-serving: { custom_images: "..." } }');
  const settings: BundleOptionSetting[] = [];
  for (const app of entries(y, map)) {
    for (const option of scalarMap(y, app, `config.${app.key}`)) {
      settings.push({ application: app.key, option: option.key, value: optionValue(y, option, `config.${app.key}`, spec), file: y.file, line: lineOf(y, option.value ?? option.keyNode) });
    }
  }
  return settings;
}

function readCharms(y: YamlDoc, entry: Entry, spec: ManifestSpec): CharmSpec[] {
  const seq = asSeq(entry.value);
  if (seq === undefined) throw errorAt(y, entry.value ?? entry.keyNode, `charms must be a list, found ${describeNode(entry.value)}`, 'write each charm as a list item: - name: ..., charm: ...');
  const charms: CharmSpec[] = [];
  seq.items.forEach((item, index) => {
    const node = deref(y, item);
    const map = asMap(node);
    const where = `charms[${index}]`;
    if (map === undefined) throw errorAt(y, node, `${where} must be a mapping with name: and charm:, found ${describeNode(node)}`);
    const all = entries(y, map);
    checkKeys(y, all, CHARM_KEYS, where);
    const field = (key: string): Entry | undefined => all.find((e) => e.key === key);
    const nameEntry = field('name');
    const charmEntry = field('charm');
    if (nameEntry === undefined) throw errorAt(y, node, `${where} has no name:`, 'give the application name it is deployed as');
    if (charmEntry === undefined) throw errorAt(y, node, `${where} has no charm:`, 'give a local .charm file or an https:// URL with sha256:');
    const name = text(y, nameEntry, `${where}.name`);
    const charm = text(y, charmEntry, `${where}.charm`);
    const duplicate = charms.find((c) => c.name === name);
    if (duplicate !== undefined) throw errorAt(y, nameEntry.value, `${where}: charm name "${name}" is already used on line ${duplicate.line}`);

    let sha256: string | undefined;
    const shaEntry = field('sha256');
    if (shaEntry !== undefined) {
      sha256 = text(y, shaEntry, `${where}.sha256`).replace(/^sha256:/, '');
      if (!SHA256_HEX.test(sha256)) throw errorAt(y, shaEntry.value, `${where}.sha256 must be 64 lowercase hex digits`);
    }
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(charm)?.[1];
    if (scheme !== undefined && scheme.toLowerCase() !== 'https') {
      throw errorAt(y, charmEntry.value, `${where}.charm: only https:// URLs can be fetched, not ${scheme}://`);
    }
    if (scheme !== undefined && sha256 === undefined) {
      throw errorAt(y, charmEntry.value, `${where}.charm is a URL but has no sha256:`, 'add sha256: with the charm file\'s digest, so that what is downloaded can be checked');
    }

    const resources: Record<string, string> = {};
    const resourcesEntry = field('resources');
    if (resourcesEntry !== undefined) {
      for (const resource of scalarMap(y, resourcesEntry, `${where}.resources`)) {
        if (resource.value === null || typeof resource.value.value === 'boolean') {
          throw errorAt(y, resource.value ?? resource.keyNode, `${where}.resources.${resource.key} must be an image, a file or a revision`);
        }
        const value = scalarText(resource.value);
        resources[resource.key] = value;
        if (typeof resource.value.value === 'string' && isResourceImage(value)) {
          spec.candidates.push({ reference: value, file: y.file, yamlPath: `${where}.resources.${resource.key}`, line: lineOf(y, resource.value), origin: 'found' });
        }
      }
    }

    const config: Record<string, string | number | boolean> = {};
    const configEntry = field('config');
    if (configEntry !== undefined) {
      for (const option of scalarMap(y, configEntry, `${where}.config`)) config[option.key] = optionValue(y, option, `${where}.config`, spec);
    }
    charms.push({ name, charm, sha256, resources, config, file: y.file, line: lineOf(y, node) });
  });
  return charms;
}

/** The entries of a mapping whose values must be scalars (null when empty). */
function scalarMap(y: YamlDoc, entry: Entry, where: string): { key: string; keyNode: unknown; value: Scalar | null }[] {
  const map = asMap(entry.value);
  if (map === undefined) throw errorAt(y, entry.value ?? entry.keyNode, `${where} must be a mapping, found ${describeNode(entry.value)}`);
  return entries(y, map).map((item) => {
    if (isScalar(item.value)) return { key: item.key, keyNode: item.keyNode, value: item.value.value === null ? null : item.value };
    if (item.value === null || item.value === undefined) return { key: item.key, keyNode: item.keyNode, value: null };
    throw errorAt(y, item.value, `${where}.${item.key} must be a single value, found ${describeNode(item.value)}`);
  });
}
