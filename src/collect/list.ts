/**
 * `collect --list`: the plan of a collect, shown and pulled nothing. The charms are downloaded (a stock
 * bundle's images are only known from inside them) into a temporary directory that is removed after.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseReference } from '../reference.ts';
import { planCollect, sourcesOf, withJujuImages, type CollectPlanOptions } from './plan.ts';

export interface ListedSource {
  /** Relative to the release's directory; inside a charm: `<charm file>/<member>`. */
  file: string;
  /** The key, path or line that holds it. */
  key: string;
  line: number | undefined;
  applications: string[] | undefined;
}

export interface ListedImage {
  /** As found (the first spelling met). */
  reference: string;
  /** The full reference the lock will record. */
  upstream: string;
  /** Where it lives under the private registry. */
  path: string;
  /** Where it will be pulled from, in order: mirrors first. */
  pullFrom: string[];
  sources: ListedSource[];
  /** Why collect adds it when the release names it nowhere (Juju's own images). */
  reason?: string;
}

export interface ListedCharm {
  file: string;
  applications: string[];
  charm: string;
  channel: string | undefined;
  revision: number | undefined;
  base: string | undefined;
  sha256: string;
  size: number;
  /** Image mentions read inside it. */
  images: number;
}

export interface ReleaseListing {
  name: string;
  version: string;
  images: ListedImage[];
  charms: ListedCharm[];
  warnings: string[];
}

/** `:tag`, `@digest` or both, as the upstream reference has them. */
function suffixOf(upstream: string): string {
  const ref = parseReference(upstream);
  return `${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

export async function listRelease(options: CollectPlanOptions): Promise<ReleaseListing> {
  const workDir = await mkdtemp(join(tmpdir(), 'airgap-charms-'));
  try {
    const plan = await withJujuImages(await planCollect(options, workDir), options);
    const { release } = plan;
    return {
      name: plan.name,
      version: release.version,
      images: plan.images.map((image) => ({
        reference: image.written,
        upstream: image.upstream,
        path: image.path,
        pullFrom: sourcesOf(plan, image).map((s) => `${s.registry}/${s.repository}${suffixOf(image.upstream)}`),
        sources: image.mentions.map((m) => ({
          file: relative(release.baseDir, m.file) || m.file,
          key: m.yamlPath,
          line: m.line,
          applications: m.applications,
        })),
        ...(image.reason === undefined ? {} : { reason: image.reason }),
      })),
      charms: plan.charms.map((c) => ({
        file: c.file, applications: c.applications, charm: c.charm, channel: c.channel, revision: c.revision, base: c.base, sha256: c.sha256, size: c.size, images: c.scan.images.length,
      })),
      warnings: plan.warnings,
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
