/**
 * The one rule for what a found reference becomes: collected, ignored, or a warning. Scanners only
 * report candidates; deciding here keeps bundles, charms and manifests treated alike.
 */
import { parseReference } from '../reference.ts';
import type { ImageMention, ReleaseWarning } from './types.ts';

export interface Candidate extends ImageMention {
  /**
   * `listed`: named as an image on purpose (airgap.yaml `images:`, an image list): always collected.
   * `found`: read out of a bundle option, resource, charm config or a manifest's image field.
   * `charm`: read out of a downloaded charm's own files: an upstream reference the generated bundle
   * moves to the placeholder, so one without a host is carried like any other.
   */
  origin: 'listed' | 'found' | 'charm';
}

export interface MentionRules {
  placeholder: string | undefined;
  /** Exact strings never collected. */
  ignore: readonly string[];
  /** airgap.yaml `images:`: a host-less reference listed there is carried on purpose, so no warning. */
  listed: readonly string[];
}

export interface Sorted {
  mentions: ImageMention[];
  warnings: ReleaseWarning[];
  /** The ignore entries that matched something, so that a typo in one can be reported. */
  ignoredUsed: Set<string>;
}

export function sortCandidates(candidates: readonly Candidate[], rules: MentionRules): Sorted {
  const ignore = new Set(rules.ignore);
  const listed = new Set(rules.listed);
  const sorted: Sorted = { mentions: [], warnings: [], ignoredUsed: new Set() };
  for (const { origin, ...mention } of candidates) {
    if (ignore.has(mention.reference)) {
      sorted.ignoredUsed.add(mention.reference);
      continue;
    }
    // Swapping the placeholder host redirects only references that carry it: one with no host at all
    // keeps pointing at Docker Hub, which an air-gapped cluster cannot reach.
    const hostless = parseReference(mention.reference).host === undefined;
    if (origin === 'found' && hostless && rules.placeholder !== undefined && !listed.has(mention.reference)) {
      sorted.warnings.push({
        message:
          `${mention.reference} (${mention.yamlPath}) names no registry host, so replacing the placeholder ` +
          `${rules.placeholder} cannot redirect it: the cluster would pull it from docker.io. It is not collected; ` +
          `list it under images: to carry it anyway (for a docker.io mirror), or write it as ${rules.placeholder}/${mention.reference}`,
        file: mention.file,
        yamlPath: mention.yamlPath,
        line: mention.line,
        reference: mention.reference,
      });
      continue;
    }
    sorted.mentions.push(mention);
  }
  return sorted;
}
