/**
 * Images in one option value: the references written in it (see strings.ts), plus the images a
 * hub + name + tag map builds without writing them. Istio's `image-configuration` is such a map
 * (`global-hub: docker.io/istio`, `pilot-image: pilot`, `global-tag: 1.17.3` makes docker.io/istio/pilot:1.17.3),
 * and so are Helm-style `hub:`/`image:`/`tag:` values: the rule is the shape, not the charm.
 */
import { isMap, isScalar } from 'yaml';
import type { YAMLMap } from 'yaml';
import { parseReference, tryParseReference } from '../reference.ts';
import { parseSmallYaml } from '../yaml/documents.ts';
import { findImageReferences } from './strings.ts';
import type { ImageShapeOptions } from './strings.ts';

export interface OptionImage {
  reference: string;
  /** How a built image was made, e.g. `global-hub + pilot-image + global-tag`; undefined when written as is. */
  built: string | undefined;
}

export interface OptionScan {
  images: OptionImage[];
  /** Hub values (`docker.io/istio`): registry prefixes, not images; a rewrite moves them with the images. */
  hubs: string[];
}

const HUB_KEY = /(?:^|[-_.])hub$/i;
const TAG_KEY = /(?:^|[-_.])tag$/i;
const IMAGE_KEY = /(?:^|[-_.])image$/i;
/** A bare image name: one or more path components, no host, tag or digest. */
const BARE_NAME = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*$/;

/** Option strings are small; one that is not a map (or not YAML at all) simply has no hub map. */
const MAX_PARSED_LENGTH = 256 * 1024;

interface Keyed {
  key: string;
  value: string;
}

interface HubContext {
  hub: Keyed | undefined;
  tag: Keyed | undefined;
}

function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  if (typeof node.value === 'string') return node.value;
  // `tag: 1.10` is the number 1.1 to YAML; the author meant the text.
  if (typeof node.value === 'number') return node.source ?? String(node.value);
  return undefined;
}

/** Whether `hub` reads as a registry prefix: HOST[:PORT][/PATH] or a Docker Hub namespace. */
function isHub(hub: string): boolean {
  return tryParseReference(`${hub}/x:1`) !== undefined && !hub.includes('@');
}

interface Level {
  hub: Keyed | undefined;
  tag: Keyed | undefined;
  names: Keyed[];
  children: YAMLMap[];
}

function levelOf(map: YAMLMap): Level {
  const level: Level = { hub: undefined, tag: undefined, names: [], children: [] };
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined) continue;
    if (isMap(pair.value)) level.children.push(pair.value);
    const text = scalarText(pair.value);
    if (text === undefined) continue;
    if (HUB_KEY.test(key) && isHub(text)) level.hub = { key, value: text.replace(/\/+$/, '') };
    else if (TAG_KEY.test(key) && text !== '') level.tag = { key, value: text };
    else if (IMAGE_KEY.test(key) && BARE_NAME.test(text)) level.names.push({ key, value: text });
  }
  return level;
}

/** Every hub and tag of the map, at any depth: a document with exactly one of each (Helm's `global:`) lends them to all. */
function collectAll(map: YAMLMap, hubs: Keyed[], tags: Keyed[]): void {
  const level = levelOf(map);
  if (level.hub !== undefined) hubs.push(level.hub);
  if (level.tag !== undefined) tags.push(level.tag);
  for (const child of level.children) collectAll(child, hubs, tags);
}

function walk(map: YAMLMap, inherited: HubContext, fallback: HubContext, found: OptionImage[], used: Set<string>): void {
  const level = levelOf(map);
  // The nearest hub and tag win: the map's own, then its ancestors', then the document's only ones.
  const context: HubContext = { hub: level.hub ?? inherited.hub, tag: level.tag ?? inherited.tag };
  const hub = context.hub ?? fallback.hub;
  const tag = context.tag ?? fallback.tag;
  if (hub !== undefined && tag !== undefined) {
    for (const name of level.names) {
      const reference = `${hub.value}/${name.value}:${tag.value}`;
      if (tryParseReference(reference) === undefined) continue;
      used.add(hub.value);
      found.push({ reference, built: `${hub.key} + ${name.key} + ${tag.key}` });
    }
  }
  for (const child of level.children) walk(child, context, fallback, found, used);
}

interface HubScan extends OptionScan {
  /** Every value under a hub key: a registry prefix, never an image itself. */
  hubValues: string[];
}

/** The images a hub + name + tag map in `text` builds, and the hubs it used. */
export function hubImages(text: string): HubScan {
  const none: HubScan = { images: [], hubs: [], hubValues: [] };
  if (text.length > MAX_PARSED_LENGTH || !/hub/i.test(text)) return none;
  let contents: unknown;
  try {
    contents = parseSmallYaml('an option value', text, { uniqueKeys: false })[0]?.doc.contents;
  } catch {
    // Not YAML, or past the reader's limits: not a map of images either.
    return none;
  }
  if (!isMap(contents)) return none;
  const hubs: Keyed[] = [];
  const tags: Keyed[] = [];
  collectAll(contents, hubs, tags);
  const fallback: HubContext = { hub: hubs.length === 1 ? hubs[0] : undefined, tag: tags.length === 1 ? tags[0] : undefined };
  const images: OptionImage[] = [];
  const used = new Set<string>();
  walk(contents, { hub: undefined, tag: undefined }, fallback, images, used);
  return { images, hubs: [...used], hubValues: hubs.map((h) => h.value) };
}

/** Every image an option value names or builds, in order; a hub value is not itself an image. */
export function findOptionImages(text: string, options: ImageShapeOptions = {}): OptionScan {
  const built = hubImages(text);
  const hubs = new Set(built.hubValues);
  const written = findImageReferences(text, options)
    .filter((reference) => !hubs.has(reference))
    .map((reference): OptionImage => ({ reference, built: undefined }));
  return { images: [...written, ...built.images], hubs: built.hubs };
}

/** A hub moved to another registry: `docker.io/istio` -> `REGISTRY/istio`, as the images it builds move. */
export function hubAt(hub: string, registry: string): string {
  const path = parseReference(`${hub}/x:1`).name.replace(/\/x$/, '');
  return `${registry}/${path}`;
}
