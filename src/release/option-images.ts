/**
 * Images in one option value: the references written in it (see strings.ts), plus the images a
 * hub + name + tag map builds without writing them. Istio's `image-configuration` is such a map
 * (`global-hub: docker.io/istio`, `pilot-image: pilot`, `global-tag: 1.17.3` makes docker.io/istio/pilot:1.17.3),
 * and so are Helm-style `hub:`/`image:`/`tag:` values: the rule is the shape, not the charm.
 */
import { isMap, isScalar, parseDocument } from 'yaml';
import type { YAMLMap } from 'yaml';
import { parseReference, tryParseReference } from '../reference.ts';
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

interface HubContext {
  hub: { key: string; value: string } | undefined;
  tag: { key: string; value: string } | undefined;
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

function walk(map: YAMLMap, inherited: HubContext, found: OptionImage[], hubs: Set<string>): void {
  const context: HubContext = { ...inherited };
  const names: { key: string; value: string }[] = [];
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined) continue;
    const text = scalarText(pair.value);
    if (text !== undefined) {
      if (HUB_KEY.test(key) && isHub(text)) context.hub = { key, value: text.replace(/\/+$/, '') };
      else if (TAG_KEY.test(key) && text !== '') context.tag = { key, value: text };
      else if (IMAGE_KEY.test(key) && BARE_NAME.test(text)) names.push({ key, value: text });
    }
  }
  const { hub, tag } = context;
  if (hub !== undefined && tag !== undefined) {
    for (const name of names) {
      const reference = `${hub.value}/${name.value}:${tag.value}`;
      if (tryParseReference(reference) === undefined) continue;
      hubs.add(hub.value);
      found.push({ reference, built: `${hub.key} + ${name.key} + ${tag.key}` });
    }
  }
  for (const pair of map.items) if (isMap(pair.value)) walk(pair.value, context, found, hubs);
}

/** The images a hub + name + tag map in `text` builds, and the hubs it used. */
export function hubImages(text: string): OptionScan {
  const images: OptionImage[] = [];
  const hubs = new Set<string>();
  if (text.length > MAX_PARSED_LENGTH || !/hub/i.test(text)) return { images, hubs: [] };
  let contents: unknown;
  try {
    const doc = parseDocument(text, { uniqueKeys: false });
    if (doc.errors.length > 0) return { images, hubs: [] };
    contents = doc.contents;
  } catch {
    return { images, hubs: [] };
  }
  if (isMap(contents)) walk(contents, { hub: undefined, tag: undefined }, images, hubs);
  return { images, hubs: [...hubs] };
}

/** Every image an option value names or builds, in order; a hub value is not itself an image. */
export function findOptionImages(text: string, options: ImageShapeOptions = {}): OptionScan {
  const built = hubImages(text);
  const hubs = new Set(built.hubs);
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
