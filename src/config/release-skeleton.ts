/**
 * `airgap init`: an airgap.yaml for a release from one of its files (a Juju bundle, a Kubernetes manifest,
 * an image list), from templates/airgap.yaml. The scan guesses the placeholder host and where its images
 * come from; what it cannot decide is written as comments marked "check:". The result is loaded back with
 * the release reader before it is returned, so init never writes a manifest that collect would refuse.
 */
import { isIP } from 'node:net';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { AirgapError, UsageError, messageOf } from '../errors.ts';
import { parseReference, parseRegistryLocation, tryParseReference } from '../reference.ts';
import { loadRelease, planImages, type Release } from '../release/index.ts';
import { TOOL_NAME } from '../version.ts';
import { parseYamlDocuments, plainValue } from '../yaml/documents.ts';
import type { Rendering } from './rendered.ts';
import { renderTemplate, type TemplateView } from './template.ts';

export interface SkeletonOptions {
  /** The bundle, manifest or image list to start from. */
  source: string;
  /** Where the airgap.yaml goes; default airgap.yaml beside the source. */
  output?: string | undefined;
  name?: string | undefined;
  version?: string | undefined;
  /** Default: guessed from the references found. */
  placeholder?: string | undefined;
}

export interface Skeleton {
  rendering: Rendering;
  /** Absolute path the manifest is for: its relative paths are relative to it. */
  output: string;
  kind: Release['kind'];
  placeholder: string | undefined;
  /** Images collect would pull from the manifest as written. */
  images: number;
  undecided: number;
  ignored: number;
}

/**
 * Registries that publish under a well-known first path segment, for the upstream: guess of a placeholder
 * image (the air-gapped Charmed Kubeflow releases pull these from there). Everything else: Docker Hub.
 */
const KNOWN_UPSTREAMS: readonly { prefix: string; registry: string }[] = [
  { prefix: 'knative-releases/', registry: 'gcr.io' },
  { prefix: 'ml-pipeline/', registry: 'gcr.io' },
  { prefix: 'kubebuilder/', registry: 'gcr.io' },
  { prefix: 'google-containers/', registry: 'gcr.io' },
  { prefix: 'tekton-releases/', registry: 'gcr.io' },
  { prefix: 'dexidp/', registry: 'ghcr.io' },
  { prefix: 'nvidia/', registry: 'nvcr.io' },
];

/** A host no public image lives on: a private or loopback address, localhost, or a local-only name. */
function isLocalHost(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  if (name === 'localhost' || /\.(local|internal|lan|home\.arpa)$/.test(name)) return true;
  if (isIP(name) === 4) {
    const [a = 0, b = 0] = name.split('.').map(Number);
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  if (isIP(name) === 6) return name === '::1' || /^f[cd]/i.test(name);
  return false;
}

/** The local host most references are written with: a placeholder, not a registry anyone can pull from. */
function guessPlaceholder(release: Release): string | undefined {
  const counts = new Map<string, number>();
  for (const m of release.mentions) {
    const host = tryParseReference(m.reference)?.host;
    if (host !== undefined && isLocalHost(host)) counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
}

function relativeTo(dir: string, file: string): string {
  const rel = relative(dir, file);
  return rel.split(sep).join('/');
}

/** The bundle's own name: field, the release's name when it has one. */
async function bundleName(file: string): Promise<string | undefined> {
  try {
    const first = (await parseYamlDocuments(file, await readFile(file, 'utf8')))[0];
    const doc = plainValue(first) as { name?: unknown } | null | undefined;
    return typeof doc?.name === 'string' && doc.name.trim() !== '' ? doc.name.trim() : undefined;
  } catch {
    return undefined;
  }
}

function upstreamEntries(release: Release, placeholder: string | undefined): TemplateView[] {
  if (placeholder === undefined) return [];
  const paths = release.mentions.map((m) => tryParseReference(m.reference)).filter((r) => r?.host === placeholder).map((r) => r?.name ?? '');
  if (paths.length === 0) return [];
  const entries: TemplateView[] = [];
  for (const known of KNOWN_UPSTREAMS) {
    const count = paths.filter((p) => p.startsWith(known.prefix)).length;
    if (count > 0) entries.push({ prefix: known.prefix, registry: known.registry, note: `check: guessed for ${count} image(s) under ${known.prefix}` });
  }
  entries.push({ prefix: '*', registry: 'docker.io', note: 'check: guessed; every other placeholder image is pulled from Docker Hub' });
  return entries;
}

interface ScanFindings {
  undecided: TemplateView[];
  ignore: TemplateView[];
}

/** What loading the candidate shows: references it will not carry, and placeholder hubs that are not images. */
function findings(release: Release, placeholder: string | undefined): ScanFindings {
  const undecided = new Map<string, TemplateView>();
  for (const w of release.warnings) {
    if (w.reference === undefined || undecided.has(w.reference)) continue;
    const ref = tryParseReference(w.reference);
    const why = ref?.host === undefined ? 'names no registry host, so the placeholder swap cannot redirect it' : w.message;
    undecided.set(w.reference, { reference: w.reference, note: `${w.yamlPath ?? ''}${w.line === undefined ? '' : ` (line ${w.line})`}: ${why}` });
  }
  const ignore = new Map<string, TemplateView>();
  for (const m of release.mentions) {
    const ref = tryParseReference(m.reference);
    // `172.17.0.2:5000/istio` in an option is a hub the charm appends names to, not an image to pull.
    // Untagged with one path segment; `google-containers/busybox` untagged is an image, pulled as :latest.
    if (ref === undefined || ref.host !== placeholder || ref.tag !== undefined || ref.digest !== undefined || ref.name.includes('/') || m.yamlPath.includes('.resources.')) continue;
    if (!ignore.has(m.reference)) ignore.set(m.reference, { value: m.reference, note: `${m.yamlPath}: one name and no tag, taken for a registry namespace the charm appends image names to` });
  }
  return { undecided: [...undecided.values()], ignore: [...ignore.values()] };
}

async function loadCandidate(output: string, text: string): Promise<Release> {
  const probe = join(dirname(output), `.${basename(output)}.${process.pid}.init`);
  await writeFile(probe, text);
  try {
    return await loadRelease(probe);
  } catch (err: unknown) {
    throw new AirgapError(`the airgap.yaml written for this release does not load: ${messageOf(err)}`, { cause: err, hint: 'this is a bug in airgap init; write the file by hand from README "File formats"' });
  } finally {
    await rm(probe, { force: true });
  }
}

export async function renderReleaseSkeleton(options: SkeletonOptions): Promise<Skeleton> {
  const source = resolve(options.source);
  const release = await loadRelease(source);
  if (release.kind === 'airgap') throw new UsageError(`${options.source} is already a release manifest (airgap.yaml)`, { hint: 'give init the bundle, manifest or image list it should describe' });
  const output = resolve(options.output ?? join(release.baseDir, 'airgap.yaml'));
  if (output === source) throw new UsageError(`-o ${options.output ?? output}: that is the file being scanned`);
  const outDir = dirname(output);
  if (options.placeholder !== undefined) parseRegistryLocation(options.placeholder);
  const placeholder = options.placeholder ?? guessPlaceholder(release);
  const name = options.name ?? (release.kind === 'bundle' ? await bundleName(source) : undefined) ?? basename(release.baseDir);

  const images: TemplateView[] = [];
  if (release.kind === 'image-list') {
    const seen = new Set<string>();
    for (const m of release.mentions) {
      if (seen.has(m.reference)) continue;
      seen.add(m.reference);
      parseReference(m.reference);
      images.push({ reference: m.reference, note: `${relativeTo(outDir, m.file)}${m.line === undefined ? '' : ` line ${m.line}`}` });
    }
  }
  const upstream = upstreamEntries(release, placeholder);
  const view = (found: ScanFindings): TemplateView => ({
    tool: TOOL_NAME,
    source: options.source,
    name,
    version: options.version ?? '',
    placeholder: placeholder ?? '',
    has_upstream: upstream.length > 0,
    upstream,
    bundle: release.kind === 'bundle' ? relativeTo(outDir, source) : '',
    has_manifests: release.kind === 'kubernetes',
    manifests: release.kind === 'kubernetes' ? [relativeTo(outDir, source)] : [],
    has_images: images.length > 0,
    images,
    has_undecided: found.undecided.length > 0,
    undecided: found.undecided,
    has_ignore: found.ignore.length > 0,
    ignore: found.ignore,
  });
  // Loaded once as written, then again with what that load showed: hubs under ignore:, the rest commented.
  let found: ScanFindings = { undecided: [], ignore: [] };
  let text = renderTemplate('airgap.yaml', view(found));
  let loaded = await loadCandidate(output, text);
  found = findings(loaded, placeholder);
  if (found.undecided.length > 0 || found.ignore.length > 0) {
    text = renderTemplate('airgap.yaml', view(found));
    loaded = await loadCandidate(output, text);
  }
  const planned = planImages(loaded);
  return {
    rendering: { files: [{ path: basename(output), content: text, installPath: output }], notes: [] },
    output,
    kind: release.kind,
    placeholder,
    images: planned.length,
    undecided: found.undecided.length,
    ignored: found.ignore.length,
  };
}
