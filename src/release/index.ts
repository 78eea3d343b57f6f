/**
 * A release, whatever file it is given as, becomes one Release: the images to carry, the charms and
 * files to pack, and what the operator should be warned about.
 */
import { glob, stat } from 'node:fs/promises';
import path from 'node:path';
import { ReleaseFileError } from '../errors.ts';
import { isBundleMap, scanBundle } from './bundle.ts';
import type { BundleScan } from './bundle.ts';
import { detectRelease, detectYaml } from './detect.ts';
import { parseImageList } from './image-list.ts';
import { scanKubernetes } from './kubernetes.ts';
import { parseManifest } from './manifest.ts';
import type { ManifestSpec, NamedFile } from './manifest.ts';
import { sortCandidates } from './mentions.ts';
import type { Candidate } from './mentions.ts';
import type { Release, ReleaseWarning } from './types.ts';
import { asMap, describeNode, parseYamlDocuments, readReleaseText } from './yaml.ts';
import type { YamlDoc } from './yaml.ts';

export type { BundleCharm, CharmhubCharm, CharmSpec, ImageMention, PlannedImage, Release, ReleaseKind, ReleaseWarning } from './types.ts';
export type { Candidate } from './mentions.ts';
export { planImages } from './plan.ts';

export interface LoadOptions {
  /**
   * Images the release's files do not hold but its charms do (collect downloads a stock bundle's charms
   * and reads them): called once the release is read, before the ignore:/placeholder rules are applied.
   */
  charmImages?: (release: Release) => Promise<Candidate[]>;
  /** Stops reading the release's YAML when it fires (Ctrl-C). */
  signal?: AbortSignal;
}

export async function loadRelease(file: string, options: LoadOptions = {}): Promise<Release> {
  const absolute = path.resolve(file);
  const detected = await detectRelease(absolute, options.signal);
  const release: Release = {
    kind: detected.kind,
    file: absolute,
    baseDir: path.dirname(absolute),
    name: path.basename(absolute, path.extname(absolute)),
    version: '',
    placeholder: undefined,
    upstream: {},
    bundleFile: undefined,
    bundleCharms: [],
    charmhubCharms: [],
    charms: [],
    bundleOptions: [],
    relations: [],
    manifestFiles: [],
    platforms: [],
    ignore: [],
    mentions: [],
    warnings: [],
    files: [absolute],
  };
  let candidates: Candidate[];
  switch (detected.kind) {
    case 'image-list':
      candidates = parseImageList(absolute, detected.text);
      break;
    case 'kubernetes':
      release.manifestFiles = [absolute];
      candidates = scanKubernetes(detected.docs);
      break;
    case 'bundle': {
      const scan = scanBundle(detected.doc, { placeholder: undefined });
      release.bundleFile = absolute;
      release.bundleCharms = scan.charms;
      release.charmhubCharms = scan.charmhub;
      candidates = scan.candidates;
      break;
    }
    case 'airgap':
      candidates = await loadManifest(detected.doc, release, options.signal);
      break;
  }
  if (options.charmImages !== undefined) candidates.push(...(await options.charmImages(release)));
  const sorted = sortCandidates(candidates, { placeholder: release.placeholder, ignore: release.ignore, listed: listedImages(candidates) });
  release.mentions = sorted.mentions;
  release.warnings.push(...sorted.warnings);
  for (const unused of release.ignore.filter((entry) => !sorted.ignoredUsed.has(entry))) {
    release.warnings.push(warning(release.file, `ignore: ${unused} matches nothing the release mentions (ignore compares whole strings)`, 'ignore', undefined, unused));
  }
  return release;
}

function listedImages(candidates: readonly Candidate[]): string[] {
  return candidates.filter((c) => c.origin === 'listed').map((c) => c.reference);
}

/** airgap.yaml: its own images, then the bundle's, then the manifests', each file in its own order. */
async function loadManifest(y: YamlDoc, release: Release, signal: AbortSignal | undefined): Promise<Candidate[]> {
  const spec = parseManifest(y);
  release.name = spec.name ?? path.basename(release.baseDir);
  release.version = spec.version;
  release.placeholder = spec.placeholder;
  release.upstream = spec.upstream;
  release.charms = spec.charms;
  release.bundleOptions = spec.bundleOptions;
  release.relations = spec.relations;
  release.platforms = spec.platforms;
  release.ignore = spec.ignore;
  if (spec.placeholder === undefined && Object.keys(spec.upstream).length > 0) {
    release.warnings.push(warning(y.file, 'upstream: has no effect without placeholder: (every image is pulled from the host it names)', 'upstream', undefined, undefined));
  }
  const candidates = [...spec.candidates];

  if (spec.bundle !== undefined) {
    const scan = await loadBundle(y.file, spec.bundle, spec.placeholder, signal);
    release.bundleFile = spec.bundle.resolved;
    release.bundleCharms = scan.charms;
    release.charmhubCharms = scan.charmhub;
    release.files.push(spec.bundle.resolved);
    candidates.push(...scan.candidates);
  }

  release.manifestFiles = await expandManifests(y.file, spec, signal);
  for (const manifest of release.manifestFiles) {
    const docs = await parseYamlDocuments(manifest, await readReleaseText(manifest, 'Kubernetes manifest'), { signal });
    // A manifest file of only comments or `---` is legitimate: it applies nothing and names no image.
    if (docs.every((d) => describeNode(d.doc.contents) === 'nothing')) continue;
    const detected = detectYaml(manifest, docs);
    if (detected.kind !== 'kubernetes') {
      throw new ReleaseFileError(manifest, `named by manifests: in ${y.file} but it is not Kubernetes manifests (it looks like a ${detected.kind} file)`);
    }
    candidates.push(...scanKubernetes(detected.docs));
  }
  for (const manifest of release.manifestFiles) if (!release.files.includes(manifest)) release.files.push(manifest);
  return candidates;
}

async function loadBundle(manifestFile: string, bundle: NamedFile, placeholder: string | undefined, signal: AbortSignal | undefined): Promise<BundleScan> {
  const where = { line: bundle.line, column: bundle.column };
  if (!(await isFile(bundle.resolved))) {
    throw new ReleaseFileError(manifestFile, `bundle: ${bundle.written} does not exist (${bundle.resolved})`, { ...where, hint: 'give the bundle path relative to airgap.yaml' });
  }
  const docs = await parseYamlDocuments(bundle.resolved, await readReleaseText(bundle.resolved, 'bundle'), { signal });
  const first = docs.find((d) => asMap(d.doc.contents) !== undefined);
  const map = first === undefined ? undefined : asMap(first.doc.contents);
  if (first === undefined || map === undefined || !isBundleMap(first, map)) {
    throw new ReleaseFileError(manifestFile, `bundle: ${bundle.written} is not a Juju bundle (it has no applications:)`, where);
  }
  return scanBundle(first, { placeholder });
}

async function expandManifests(manifestFile: string, spec: ManifestSpec, signal: AbortSignal | undefined): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of spec.manifests) {
    let matches = await globFiles(pattern.written, path.dirname(manifestFile));
    // charms.tar.gz is flat: unpacked by airgap load, k8s/*.yaml sits beside airgap.yaml as *.yaml.
    if (matches.length === 0 && pattern.written.includes('/')) {
      // Beside them are the bundle, airgap.yaml and rewritten bundles: only Kubernetes files count there.
      const flat = (await globFiles(path.basename(pattern.written), path.dirname(manifestFile))).filter((m) => m !== manifestFile);
      matches = [];
      for (const candidate of flat) if (await isKubernetesFile(candidate, signal)) matches.push(candidate);
    }
    if (matches.length === 0) {
      throw new ReleaseFileError(manifestFile, `manifests: ${pattern.written} matches no file`, {
        line: pattern.line,
        column: pattern.column,
        hint: 'give paths or globs relative to airgap.yaml, like k8s/*.yaml',
      });
    }
    for (const match of matches) found.add(match);
  }
  return [...found].sort();
}

/** Files matching `pattern` under `dir`; globbing relative to it keeps glob characters in its own name literal. */
async function globFiles(pattern: string, dir: string): Promise<string[]> {
  const matches: string[] = [];
  for await (const match of glob(pattern, { cwd: dir })) {
    const absolute = path.resolve(dir, match);
    if (await isFile(absolute)) matches.push(absolute);
  }
  return matches;
}

async function isKubernetesFile(file: string, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    const docs = await parseYamlDocuments(file, await readReleaseText(file, 'Kubernetes manifest'), { signal });
    return detectYaml(file, docs).kind === 'kubernetes';
  } catch (err: unknown) {
    // Ctrl-C is not an answer to "is this a Kubernetes file?".
    if (signal?.aborted) throw err;
    return false;
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function warning(file: string, message: string, yamlPath: string | undefined, line: number | undefined, reference: string | undefined): ReleaseWarning {
  return { message, file, yamlPath, line, reference };
}
