/**
 * What a collect will carry, decided before any image is pulled: the release read, a stock bundle's charms
 * downloaded and read for their images, every image with where it is mentioned and where it will be pulled
 * from, and the generated air-gapped bundle. `collect --list` stops here; `collect` goes on to pull.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { JujuVersion } from '../config/juju-images.ts';
import { ReleaseFileError } from '../errors.ts';
import { AIRGAP_BUNDLE_FILE, DEFAULT_PLACEHOLDER, generateAirgapBundle } from '../release/airgap-bundle.ts';
import { AIRGAP_MANIFEST_FILE, generateAirgapManifest } from '../release/airgap-manifest.ts';
import { parseYamlDocuments, plainValue } from '../yaml/documents.ts';
import { loadRelease, planImages, type Candidate, type PlannedImage, type Release } from '../release/index.ts';
import { downloadCharms, type DownloadedCharm } from './charmhub.ts';
import type { CollectEventListener } from './events.ts';
import { checkJujuVersionFlag, mergeJujuImages, planJujuImages, type CarriedCharm } from './juju-images.ts';
import { localCharms } from './charm-files.ts';
import { parseMirrorFlag, pullSources, readSystemRegistriesConf, type MirrorMap, type PullSource } from './mirrors.ts';

export interface CollectPlanOptions {
  release: string;
  /** The juju executable for a stock bundle's `juju download` (default `juju` on PATH). */
  jujuPath?: string;
  /** `--charmhub-url`, passed to `juju download`. */
  charmhubUrl?: string;
  concurrency?: number;
  /** `--mirror REGISTRY=MIRROR[/PREFIX]` values. */
  mirrors?: readonly string[];
  /** containers-registries.conf(5) to read mirrors from; default $CONTAINERS_REGISTRIES_CONF or /etc/containers/registries.conf. */
  registriesConf?: string;
  /** `--juju-version X.Y.Z`: the Juju whose images to carry (default: `juju version` here). */
  jujuVersion?: string;
  /** false (`--no-juju-images`): carry no Juju image. */
  jujuImages?: boolean;
  signal?: AbortSignal;
  onEvent?: CollectEventListener;
}

/** Files collect writes itself into charms.tar.gz: the generated air-gapped bundle and its airgap.yaml. */
export interface GeneratedFiles {
  bundle: { name: string; text: string };
  manifest: { name: string; text: string };
  /** The placeholder the generated files use. */
  placeholder: string;
}

export interface CollectPlan {
  release: Release;
  /** The release's name: airgap.yaml's name:, a bundle's own name:, else the file's. */
  name: string;
  /** One per path in the private registry. */
  images: PlannedImage[];
  charms: DownloadedCharm[];
  generated: GeneratedFiles | undefined;
  mirrors: MirrorMap;
  warnings: string[];
  /** The Juju version whose images `withJujuImages` added, if it added any. */
  jujuVersion?: JujuVersion;
}

/** Several written references (a placeholder one and an upstream one) can name one image: keep it once. */
function uniqueByPath(planned: readonly PlannedImage[]): PlannedImage[] {
  const byPath = new Map<string, PlannedImage>();
  for (const p of planned) {
    const existing = byPath.get(p.path);
    if (existing === undefined) byPath.set(p.path, { ...p, mentions: [...p.mentions] });
    else existing.mentions.push(...p.mentions);
  }
  return [...byPath.values()];
}

function charmCandidates(release: Release, charms: readonly DownloadedCharm[]): Candidate[] {
  return charms.flatMap((charm) =>
    charm.scan.images.map((image): Candidate => ({
      reference: image.reference,
      // Named as the member inside the carried file, so that a message reads `mlmd_r1.charm/metadata.yaml:12`.
      file: join(release.baseDir, charm.file, image.member),
      yamlPath: image.key,
      line: image.line,
      applications: [...charm.applications],
      origin: 'charm',
    })),
  );
}

export function formatWarning(w: { file: string; line: number | undefined; yamlPath: string | undefined; message: string }): string {
  return `${w.file}${w.line === undefined ? '' : `:${w.line}`}${w.yamlPath === undefined ? '' : ` ${w.yamlPath}`}: ${w.message}`;
}

/** Read the release, download and read its Charmhub charms into `workDir`, and plan every image. */
export async function planCollect(options: CollectPlanOptions, workDir: string): Promise<CollectPlan> {
  const emit: CollectEventListener = options.onEvent ?? (() => {});
  checkJujuVersionFlag(options.jujuVersion);
  const flagRules = (options.mirrors ?? []).map(parseMirrorFlag);
  const conf = await readSystemRegistriesConf(options.registriesConf ?? process.env['CONTAINERS_REGISTRIES_CONF']);
  const mirrors: MirrorMap = { rules: [...flagRules, ...conf.rules], insecureHosts: conf.insecureHosts };

  let charms: DownloadedCharm[] = [];
  emit({ type: 'release-reading', file: resolve(options.release) });
  const release = await loadRelease(resolve(options.release), {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    charmImages: async (read) => {
      charms = await downloadCharms(read.charmhubCharms, {
        dir: workDir,
        ...(options.jujuPath === undefined ? {} : { jujuPath: options.jujuPath }),
        ...(options.charmhubUrl === undefined ? {} : { charmhubUrl: options.charmhubUrl }),
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        onDownloading: (charm, channel, applications) => emit({ type: 'charm-downloading', charm, channel, applications: [...applications] }),
        onDownloaded: (c) => emit({ type: 'charm-downloaded', file: c.file, revision: c.revision, sha256: c.sha256, images: c.scan.images.length, applications: c.applications }),
      });
      return charmCandidates(read, charms);
    },
  });
  const images = uniqueByPath(planImages(release));
  // Where each image comes from is settled now, so that a blocked registry fails before anything is pulled.
  for (const image of images) pullSources(image.upstream, mirrors);
  const warnings = release.warnings.map(formatWarning);

  const setting = release.bundleOptions[0];
  if (setting !== undefined && charms.length === 0) {
    // Only a generated bundle takes them: an air-gapped bundle is the operator's own file, deployed as written.
    throw new ReleaseFileError(setting.file, `config: sets options in the air-gapped bundle collect generates from a stock one, but ${basename(release.bundleFile ?? '')} names no Charmhub charm`, {
      ...(setting.line === undefined ? {} : { line: setting.line }),
      hint: 'write the options into the bundle itself (its images on the placeholder), or deploy with --set APP.OPTION=VALUE',
    });
  }
  let generated: GeneratedFiles | undefined;
  let name = release.name;
  if (charms.length > 0 && release.bundleFile !== undefined) {
    const placeholder = release.placeholder ?? DEFAULT_PLACEHOLDER;
    const text = await readFile(release.bundleFile, 'utf8');
    const bundleName: unknown = release.kind === 'bundle' ? (plainValue((await parseYamlDocuments(release.bundleFile, text, { signal: options.signal }))[0]) as { name?: unknown } | null | undefined)?.name : undefined;
    if (typeof bundleName === 'string' && bundleName !== '') name = bundleName;
    const bundle = generateAirgapBundle({ file: release.bundleFile, text, charms, placeholder, ignore: release.ignore, options: release.bundleOptions });
    warnings.push(...bundle.warnings);
    const manifestText = release.kind === 'airgap' ? await readFile(release.file, 'utf8') : undefined;
    generated = {
      bundle: { name: AIRGAP_BUNDLE_FILE, text: bundle.text },
      manifest: { name: AIRGAP_MANIFEST_FILE, text: generateAirgapManifest({ ...release, name }, manifestText, placeholder) },
      placeholder,
    };
  }
  return { release, name, images, charms, generated, mirrors, warnings };
}

/** Where each planned image is pulled from, in order (mirrors first). */
export function sourcesOf(plan: CollectPlan, image: PlannedImage): PullSource[] {
  return pullSources(image.upstream, plan.mirrors);
}

/**
 * The plan with Juju's own images added (jujud-operator, juju-db, and charm-base of every base the carried
 * charms run on), each with its reason and pulled through the mirrors like any other. Reads the local charms:
 * collect checks them first.
 */
export async function withJujuImages(plan: CollectPlan, options: CollectPlanOptions): Promise<CollectPlan> {
  const carried: CarriedCharm[] = [
    ...plan.charms.map((c) => ({ name: c.file, path: c.path })),
    ...localCharms(plan.release).map((c) => ({ name: basename(c.path), path: c.path })),
  ];
  const juju = await planJujuImages(plan.release, carried, options);
  for (const image of juju.images) pullSources(image.upstream, plan.mirrors);
  return {
    ...plan,
    images: mergeJujuImages(plan.images, juju.images),
    warnings: [...plan.warnings, ...juju.warnings],
    ...(juju.version === undefined ? {} : { jujuVersion: juju.version }),
  };
}
