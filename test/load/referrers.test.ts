/** Referrers held to the lock on the offline side: recorded against their image, and all of them present. */
import { describe, expect, it } from 'vitest';
import type { Lock } from '../../src/lock.ts';
import type { ArchiveImage } from '../../src/load/archive-contents.ts';
import { checkLockedReferrersPresent, checkReferrersLocked } from '../../src/load/referrers.ts';

const IMAGE = `sha256:${'11'.repeat(32)}`;
const SIG = `sha256:${'22'.repeat(32)}`;
const SBOM = `sha256:${'33'.repeat(32)}`;
const TAG = `sha256-${'11'.repeat(32)}.sig`;

const lock: Lock = {
  lockVersion: 1, tool: 'airgap', name: 'r', version: '1', placeholder: undefined, platforms: [], charms: [], archives: {},
  images: [{
    reference: 'reg.example/team/app:1.0', upstream: 'reg.example/team/app:1.0', path: 'team/app:1.0', digest: IMAGE, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    platforms: [], size: 1, narrowed: false, mentions: [],
    referrers: [
      { digest: SIG, mediaType: 'application/vnd.oci.image.manifest.v1+json', subject: IMAGE, found: 'tag', tag: TAG, size: 1 },
      { digest: SBOM, mediaType: 'application/vnd.oci.image.manifest.v1+json', subject: IMAGE, found: 'referrers-api', size: 1 },
    ],
  }],
};

function referrer(digest: string, tag: string | undefined, of = 'team/app:1.0'): ArchiveImage {
  const path = tag === undefined ? `team/app@${digest}` : `team/app:${tag}`;
  return { path, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, referrer: { of, subject: IMAGE, tag, path } };
}

describe('referrers and the lock', () => {
  it('each referrer of the archive must be the lock\'s, for that image, with that tag', () => {
    expect(() => checkReferrersLocked(lock, 'images.tar.gz', [referrer(SIG, TAG), referrer(SBOM, undefined)])).not.toThrow();
    expect(() => checkReferrersLocked(lock, 'images.tar.gz', [referrer(SBOM, 'sha256-x.att')])).toThrow(/holds referrer .* \(tag sha256-x\.att\) of image team\/app:1\.0, which airgap-lock\.json does not record/);
    expect(() => checkReferrersLocked(lock, 'images.tar.gz', [referrer(SIG, TAG, 'team/other:1.0')])).toThrow(/of image team\/other:1\.0/);
    expect(() => checkReferrersLocked(undefined, 'images.tar.gz', [referrer(SIG, undefined, 'anything:1')])).not.toThrow();
  });

  it('each referrer the lock records must be in the archive, in its image\'s repository', () => {
    expect(() => checkLockedReferrersPresent(lock, 'images.tar.gz', [referrer(SIG, TAG), referrer(SBOM, undefined)])).not.toThrow();
    expect(() => checkLockedReferrersPresent(lock, 'images.tar.gz', [referrer(SIG, TAG)])).toThrow(`images.tar.gz lacks 1 referrer(s) airgap-lock.json records: ${SBOM} of team/app:1.0; nothing was tagged`);
  });
});
