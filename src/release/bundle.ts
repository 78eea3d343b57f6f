/**
 * The Juju bundle scanner: images in application resources and inside option strings, and the
 * applications whose charm is a local file (to be packed beside the bundle).
 */
import { isScalar } from 'yaml';
import type { YAMLMap } from 'yaml';
import type { Candidate } from './mentions.ts';
import { findImageReferences, isResourceImage } from './strings.ts';
import type { BundleCharm, CharmhubCharm } from './types.ts';
import { asMap, describeNode, entries, errorAt, get, lineOf, stringValue } from './yaml.ts';
import type { YamlDoc } from './yaml.ts';

/** The top-level keys that hold a bundle's applications: `services` is the legacy name. */
export const BUNDLE_APPLICATION_KEYS = ['applications', 'services'] as const;

export function isBundleMap(y: YamlDoc, map: YAMLMap): boolean {
  return BUNDLE_APPLICATION_KEYS.some((key) => get(y, map, key) !== undefined);
}

export interface BundleScan {
  /** The bundle's own `name:`, if any. */
  name: string | undefined;
  charms: BundleCharm[];
  charmhub: CharmhubCharm[];
  candidates: Candidate[];
}

/** Juju's series names, for the bases `juju download --base` takes. */
const SERIES_BASES: Readonly<Record<string, string>> = {
  bionic: 'ubuntu@18.04', focal: 'ubuntu@20.04', jammy: 'ubuntu@22.04', noble: 'ubuntu@24.04',
};

function baseOf(y: YamlDoc, map: YAMLMap, baseKey: string): string | undefined {
  const base = stringValue(get(y, map, baseKey)?.value);
  if (base !== undefined) return base;
  const series = stringValue(get(y, map, 'series')?.value);
  return series === undefined ? undefined : (SERIES_BASES[series] ?? series);
}

/** Juju reads a charm as a local path when it starts with '.' or '/'; a `.charm` file name is one too. */
export function isLocalCharm(charm: string): boolean {
  return charm.startsWith('.') || charm.startsWith('/') || charm.endsWith('.charm');
}

export function scanBundle(y: YamlDoc, options: { placeholder: string | undefined }): BundleScan {
  const root = asMap(y.doc.contents);
  if (root === undefined) throw errorAt(y, y.doc.contents, `a Juju bundle must be a mapping, found ${describeNode(y.doc.contents)}`);
  const scan: BundleScan = { name: stringValue(get(y, root, 'name')?.value), charms: [], charmhub: [], candidates: [] };
  const defaultBase = baseOf(y, root, 'default-base');
  for (const topKey of BUNDLE_APPLICATION_KEYS) {
    const top = get(y, root, topKey);
    if (top === undefined) continue;
    const applications = asMap(top.value);
    if (applications === undefined) {
      throw errorAt(y, top.value ?? top.keyNode, `${topKey} must be a mapping of application names to applications, found ${describeNode(top.value)}`);
    }
    for (const app of entries(y, applications)) {
      scanApplication(y, `${topKey}.${app.key}`, app.key, app.value ?? app.keyNode, { ...options, defaultBase }, scan);
    }
  }
  return scan;
}

interface ApplicationOptions {
  placeholder: string | undefined;
  defaultBase: string | undefined;
}

function scanApplication(y: YamlDoc, path: string, name: string, node: unknown, options: ApplicationOptions, scan: BundleScan): void {
  const app = asMap(node);
  if (app === undefined) throw errorAt(y, node, `application ${name} must be a mapping, found ${describeNode(node)}`);
  const charm = get(y, app, 'charm');
  const charmName = stringValue(charm?.value);
  if (charm !== undefined && charmName !== undefined && isLocalCharm(charmName)) {
    scan.charms.push({ application: name, charm: charmName, file: y.file, line: lineOf(y, charm.value) });
  } else if (charm !== undefined && charmName !== undefined) {
    scan.charmhub.push(charmhubCharm(y, path, name, app, charmName, charm.value, options));
  }

  const resources = get(y, app, 'resources');
  if (resources !== undefined) {
    const map = asMap(resources.value);
    if (map === undefined) throw errorAt(y, resources.value ?? resources.keyNode, `${path}.resources must be a mapping, found ${describeNode(resources.value)}`);
    for (const resource of entries(y, map)) {
      // A revision number or a file name is a resource too: only a value that reads as an image is one.
      const value = stringValue(resource.value);
      if (value === undefined || !isResourceImage(value)) continue;
      scan.candidates.push({ reference: value, file: y.file, yamlPath: `${path}.resources.${resource.key}`, line: lineOf(y, resource.value), origin: 'found' });
    }
  }

  const opts = get(y, app, 'options');
  if (opts !== undefined) {
    const map = asMap(opts.value);
    if (map === undefined) throw errorAt(y, opts.value ?? opts.keyNode, `${path}.options must be a mapping, found ${describeNode(opts.value)}`);
    for (const option of entries(y, map)) {
      if (!isScalar(option.value) || typeof option.value.value !== 'string') continue;
      for (const reference of findImageReferences(option.value.value, options)) {
        scan.candidates.push({ reference, file: y.file, yamlPath: `${path}.options.${option.key}`, line: lineOf(y, option.value), origin: 'found' });
      }
    }
  }
}

function charmhubCharm(y: YamlDoc, path: string, application: string, app: YAMLMap, written: string, node: unknown, options: ApplicationOptions): CharmhubCharm {
  if (written.startsWith('cs:')) {
    throw errorAt(y, node, `${path}.charm: ${written} is a charm store name; the charm store is closed`, 'name the charm as Charmhub does (drop cs: and the revision suffix), with a channel:');
  }
  const charm = written.replace(/^ch:/, '');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(charm)) {
    throw errorAt(y, node, `${path}.charm: "${written}" is neither a Charmhub name nor a local .charm file`, 'give a Charmhub name (like mysql-k8s) or a path starting with ./');
  }
  const revisionEntry = get(y, app, 'revision');
  let revision: number | undefined;
  if (revisionEntry !== undefined) {
    const value = isScalar(revisionEntry.value) ? Number(revisionEntry.value.value) : Number.NaN;
    if (!Number.isInteger(value) || value < 0) throw errorAt(y, revisionEntry.value ?? revisionEntry.keyNode, `${path}.revision must be a whole number, found ${describeNode(revisionEntry.value)}`);
    revision = value;
  }
  const channelEntry = get(y, app, 'channel');
  const channel = channelEntry === undefined ? undefined : isScalar(channelEntry.value) ? String(channelEntry.value.value) : undefined;
  return { application, charm, channel, revision, base: baseOf(y, app, 'base') ?? options.defaultBase, file: y.file, line: lineOf(y, node) };
}
