/**
 * Every image a packed charm names, with where: `resources:` of type oci-image (their `upstream-source`) in
 * metadata.yaml or charmcraft.yaml, config option defaults (written, inside strings, or built from a hub +
 * name + tag map), and the charm's data files under src/ and templates/ (JSON, YAML, Jinja templates, and
 * string constants of Python code). The charm is read in place; nothing is unpacked.
 */
import { isMap, isScalar, isSeq, LineCounter } from 'yaml';
import type { Node } from 'yaml';
import { ReleaseFileError } from '../errors.ts';
import { parseSmallYaml, plainValue, type YamlDoc } from '../yaml/documents.ts';
import { tryParseReference } from '../reference.ts';
import { findOptionImages } from '../release/option-images.ts';
import { findImageReferences, looksLikeImageInData } from '../release/strings.ts';
import { CharmFileError, CharmZip } from './zip.ts';

export interface CharmResource {
  name: string;
  type: string;
  /** The image the charm's author names for it, when the resource is an oci-image. */
  upstreamSource: string | undefined;
}

export interface CharmOption {
  name: string;
  type: string | undefined;
  default: string | number | boolean | undefined;
}

export type CharmImageKind = 'resource' | 'option' | 'data';

export interface CharmImage {
  reference: string;
  kind: CharmImageKind;
  /** The member of the zip it is read from: `metadata.yaml`, `config.yaml`, `src/default-custom-images.json`. */
  member: string;
  /** Where in the member: `resources.oci-image.upstream-source`, `options.x.default`, a JSON/YAML path, a Python name. */
  key: string;
  line: number | undefined;
  /** The resource or option it belongs to (kind `resource` / `option`). */
  owner: string | undefined;
  /** Built from a hub + name + tag map rather than written (kind `option`). */
  built: boolean;
  /** For a data map entry, its key in a flat map of images (`default-custom-images.json`): how a custom-images option names it. */
  mapKey: string | undefined;
}

export interface CharmScan {
  file: string;
  name: string;
  resources: CharmResource[];
  options: CharmOption[];
  images: CharmImage[];
  /** Hub values of option defaults (`docker.io/istio`): moved to the placeholder with the images they build. */
  hubs: { option: string; hub: string }[];
}

const DATA_DIRS = ['src/', 'templates/'];
const DATA_EXTENSIONS = ['.json', '.yaml', '.yml', '.j2', '.py'];

function isDataFile(name: string): boolean {
  return DATA_DIRS.some((dir) => name.startsWith(dir)) && DATA_EXTENSIONS.some((ext) => name.endsWith(ext));
}

interface YamlRoot {
  value: unknown;
  node: Node | null;
  lines: LineCounter;
}

/** The first document of a YAML member, both as plain data and as nodes (for lines). */
function parseYamlMember(file: string, member: string, text: string): YamlRoot {
  let first: YamlDoc | undefined;
  try {
    // From a charm, that is from outside: through the shared reader and its limits.
    first = parseSmallYaml(member, text, { uniqueKeys: false })[0];
  } catch (err: unknown) {
    if (!(err instanceof ReleaseFileError)) throw err;
    throw new CharmFileError(file, `in the charm, ${err.message}`, { cause: err, hint: 'download the charm again, or rebuild it with charmcraft pack' });
  }
  return { value: plainValue(first), node: (first?.doc.contents ?? null) as Node | null, lines: first?.lines ?? new LineCounter() };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The line of the node at `path` (map keys), or undefined. */
function lineAt(root: YamlRoot, path: readonly string[]): number | undefined {
  let node: unknown = root.node;
  for (const key of path) {
    if (!isMap(node)) return undefined;
    node = node.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === key)?.value;
  }
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  return range === undefined ? undefined : root.lines.linePos(range[0]).line;
}

export interface CharmMetadata {
  name: string;
  resources: CharmResource[];
  options: CharmOption[];
  /** The members the metadata and the options were read from. */
  metadataMember: string;
  configMember: string | undefined;
  metadataRoot: YamlRoot;
  configRoot: YamlRoot | undefined;
}

/**
 * A charm's name, resources and options: from metadata.yaml and config.yaml, or from charmcraft.yaml
 * (a charm packed from one file). A zip with neither is not a charm.
 */
export async function readCharmMetadata(zip: CharmZip): Promise<CharmMetadata> {
  const metadataMember = zip.has('metadata.yaml') ? 'metadata.yaml' : zip.has('charmcraft.yaml') ? 'charmcraft.yaml' : undefined;
  if (metadataMember === undefined) {
    throw new CharmFileError(zip.file, 'not a charm: the zip has no metadata.yaml or charmcraft.yaml', {
      hint: 'give the .charm file `charmcraft pack` or `juju download` wrote; a charm must carry its metadata',
    });
  }
  const metadataRoot = parseYamlMember(zip.file, metadataMember, (await zip.text(metadataMember)) ?? '');
  const metadata = record(metadataRoot.value);
  const name = metadata?.['name'];
  if (typeof name !== 'string' || name === '') {
    throw new CharmFileError(zip.file, `not a charm: ${metadataMember} has no name:`, { hint: 'rebuild the charm with charmcraft pack' });
  }
  const resources: CharmResource[] = [];
  for (const [resourceName, spec] of Object.entries(record(metadata?.['resources']) ?? {})) {
    const fields = record(spec);
    const type = typeof fields?.['type'] === 'string' ? fields['type'] : 'file';
    const source = fields?.['upstream-source'];
    resources.push({ name: resourceName, type, upstreamSource: type === 'oci-image' && typeof source === 'string' ? source : undefined });
  }

  // Options sit in config.yaml, or under `config: options:` of charmcraft.yaml.
  let configMember: string | undefined;
  let configRoot: YamlRoot | undefined;
  let optionsValue: unknown;
  if (zip.has('config.yaml')) {
    configMember = 'config.yaml';
    configRoot = parseYamlMember(zip.file, configMember, (await zip.text(configMember)) ?? '');
    optionsValue = record(configRoot.value)?.['options'];
  } else if (metadataMember === 'charmcraft.yaml' && record(metadata?.['config']) !== undefined) {
    configMember = metadataMember;
    configRoot = metadataRoot;
    optionsValue = record(metadata?.['config'])?.['options'];
  }
  const options: CharmOption[] = [];
  for (const [optionName, spec] of Object.entries(record(optionsValue) ?? {})) {
    const fields = record(spec);
    const value = fields?.['default'];
    options.push({
      name: optionName,
      type: typeof fields?.['type'] === 'string' ? fields['type'] : undefined,
      default: typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : undefined,
    });
  }
  return { name, resources, options, metadataMember, configMember, metadataRoot, configRoot };
}

/** Read `file` (a .charm) in place and find every image it names. */
export async function scanCharm(file: string): Promise<CharmScan> {
  const zip = await CharmZip.open(file);
  try {
    const meta = await readCharmMetadata(zip);
    const images: CharmImage[] = [];
    const hubs: { option: string; hub: string }[] = [];
    for (const resource of meta.resources) {
      if (resource.upstreamSource === undefined || tryParseReference(resource.upstreamSource) === undefined) continue;
      images.push({
        reference: resource.upstreamSource, kind: 'resource', member: meta.metadataMember, key: `resources.${resource.name}.upstream-source`,
        line: lineAt(meta.metadataRoot, ['resources', resource.name, 'upstream-source']), owner: resource.name, built: false, mapKey: undefined,
      });
    }
    const optionsPath = meta.configMember === 'charmcraft.yaml' ? ['config', 'options'] : ['options'];
    for (const option of meta.options) {
      if (typeof option.default !== 'string' || meta.configMember === undefined || meta.configRoot === undefined) continue;
      const found = findOptionImages(option.default);
      const line = lineAt(meta.configRoot, [...optionsPath, option.name, 'default']);
      for (const image of found.images) {
        const key = `${optionsPath.join('.')}.${option.name}.default${image.built === undefined ? '' : ` -> ${image.built}`}`;
        images.push({ reference: image.reference, kind: 'option', member: meta.configMember, key, line, owner: option.name, built: image.built !== undefined, mapKey: undefined });
      }
      for (const hub of found.hubs) hubs.push({ option: option.name, hub });
    }
    for (const member of [...zip.members.keys()].filter(isDataFile).sort()) {
      const text = await zip.text(member);
      if (text === undefined) continue;
      images.push(...scanDataFile(member, text));
    }
    return { file, name: meta.name, resources: meta.resources, options: meta.options, images, hubs };
  } finally {
    zip.close();
  }
}

/** A string in a data file that is one image reference, whole. */
function wholeImage(value: string): boolean {
  const ref = tryParseReference(value.trim());
  return ref !== undefined && looksLikeImageInData(ref);
}

function dataImage(member: string, reference: string, key: string, line: number | undefined, mapKey: string | undefined): CharmImage {
  return { reference, kind: 'data', member, key, line, owner: undefined, built: false, mapKey };
}

function scanDataFile(member: string, text: string): CharmImage[] {
  if (member.endsWith('.py')) return scanPython(member, text);
  if (member.endsWith('.json')) {
    try {
      return scanJson(member, JSON.parse(text) as unknown);
    } catch (err: unknown) {
      if (!(err instanceof SyntaxError)) throw err;
      return scanText(member, text);
    }
  }
  if (member.endsWith('.yaml') || member.endsWith('.yml')) {
    try {
      return parseSmallYaml(member, text, { uniqueKeys: false }).flatMap((d) => scanNodes(member, d.doc.contents, [], d.lines));
    } catch {
      // A template-like YAML file that is not YAML (or is past the reader's limits) is read as text below.
    }
  }
  return scanText(member, text);
}

/** JSON: each string value whole; a flat map of images keeps its keys (how a custom-images option names them). */
function scanJson(member: string, value: unknown): CharmImage[] {
  const found: CharmImage[] = [];
  const flat = record(value);
  const visit = (node: unknown, path: string[]): void => {
    if (typeof node === 'string') {
      if (wholeImage(node)) {
        const top = flat !== undefined && path.length === 1 ? path[0] : undefined;
        found.push(dataImage(member, node.trim(), path.join('.') || '(value)', undefined, top));
      }
      return;
    }
    if (Array.isArray(node)) node.forEach((item, index) => visit(item, [...path.slice(0, -1), `${path.at(-1) ?? ''}[${index}]`]));
    else if (record(node) !== undefined) for (const [k, v] of Object.entries(record(node) ?? {})) visit(v, [...path, k]);
  };
  visit(value, []);
  return found;
}

function scanNodes(member: string, node: unknown, path: string[], lines: LineCounter): CharmImage[] {
  if (isScalar(node)) {
    if (typeof node.value !== 'string' || !wholeImage(node.value)) return [];
    const line = node.range === undefined || node.range === null ? undefined : lines.linePos(node.range[0]).line;
    return [dataImage(member, node.value.trim(), path.join('.') || '(value)', line, path.length === 1 ? path[0] : undefined)];
  }
  if (isSeq(node)) return node.items.flatMap((item, index) => scanNodes(member, item, [...path.slice(0, -1), `${path.at(-1) ?? ''}[${index}]`], lines));
  if (isMap(node)) {
    return node.items.flatMap((pair) => (isScalar(pair.key) ? scanNodes(member, pair.value, [...path, String(pair.key.value)], lines) : []));
  }
  return [];
}

/** Templates and files that are not valid JSON or YAML: every reference written on a line. */
function scanText(member: string, text: string): CharmImage[] {
  const found: CharmImage[] = [];
  text.split('\n').forEach((line, index) => {
    // A Jinja expression is not an image; `{{ image }}` leaves nothing behind once cut out.
    const plain = line.replace(/\{\{.*?\}\}|\{%.*?%\}/g, ' ');
    for (const reference of findImageReferences(plain, {}, looksLikeImageInData)) found.push(dataImage(member, reference, `line ${index + 1}`, index + 1, undefined));
  });
  return found;
}

// One-line Python string literals, optionally prefixed (r, b, u; f-strings are built at run time and skipped).
const PY_STRING = /(?<![A-Za-z0-9_])([rRbBuU]{0,2})("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')/g;
const PY_ASSIGNED = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]+)?=/;

/** Python: string constants that are one image reference whole (`TENSORBOARD_IMAGE = "tensorflow/tensorflow:2.1.0"`). */
function scanPython(member: string, text: string): CharmImage[] {
  const found: CharmImage[] = [];
  text.split('\n').forEach((line, index) => {
    if (/^\s*#/.test(line)) return;
    for (const match of line.matchAll(PY_STRING)) {
      const prefix = match[1] ?? '';
      const literal = match[2] ?? '';
      if (/[fF]/.test(prefix)) continue;
      const value = literal.slice(1, -1);
      if (!wholeImage(value)) continue;
      const name = PY_ASSIGNED.exec(line)?.[1];
      found.push(dataImage(member, value.trim(), `line ${index + 1}${name === undefined ? '' : ` ${name}`}`, index + 1, undefined));
    }
  });
  return found;
}
