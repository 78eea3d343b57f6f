/**
 * The airgap.yaml that travels in charms.tar.gz beside a generated bundle, so that the offline side runs
 * `airgap deploy charms/airgap.yaml --registry REG` and gets the whole release. When the release was an
 * airgap.yaml already, it is that file with `bundle:` pointing at the generated bundle (comments kept) and
 * without `config:`, whose options the generated bundle holds.
 */
import { ReleaseFileError } from '../errors.ts';
import { parseSmallYaml } from '../yaml/documents.ts';
import { AIRGAP_BUNDLE_FILE } from './airgap-bundle.ts';
import type { Release } from './types.ts';

export const AIRGAP_MANIFEST_FILE = 'airgap.yaml';

export function generateAirgapManifest(release: Release, manifestText: string | undefined, placeholder: string): string {
  if (release.kind === 'airgap' && manifestText !== undefined) {
    const doc = parseSmallYaml(release.file, manifestText, { uniqueKeys: false })[0]?.doc;
    if (doc === undefined) throw new ReleaseFileError(release.file, 'the file is empty');
    doc.set('bundle', AIRGAP_BUNDLE_FILE);
    // Its options are in the generated bundle now, images on the placeholder: set twice, they could disagree.
    doc.delete('config');
    if (!doc.has('placeholder')) doc.set('placeholder', placeholder);
    return `# Written by airgap collect: ${release.file.split('/').at(-1) ?? release.file} with bundle: set to the generated ${AIRGAP_BUNDLE_FILE}.\n${doc.toString({ lineWidth: 0 })}`;
  }
  const lines = [
    `# Written by airgap collect from ${release.file.split('/').at(-1) ?? release.file}. On the offline side, after airgap load:`,
    `#   airgap deploy charms/${AIRGAP_MANIFEST_FILE} --registry REGISTRY`,
    `name: ${JSON.stringify(release.name)}`,
    `version: ${JSON.stringify(release.version)}`,
    `placeholder: ${placeholder}`,
    `bundle: ${AIRGAP_BUNDLE_FILE}`,
  ];
  return `${lines.join('\n')}\n`;
}
