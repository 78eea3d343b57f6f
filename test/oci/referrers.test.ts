/** Where referrers are found and kept: the referrers tag schema, cosign's tags, their place beside an image. */
import { describe, expect, it } from 'vitest';
import { referrerOfEntry } from '../../src/archive/image-layout.ts';
import { cosignTag, referrerPath, referrersTag } from '../../src/oci/referrers.ts';
import { pathRepository } from '../../src/reference.ts';

const D = `sha256:${'ab'.repeat(32)}`;

describe('referrer names', () => {
  it('the referrers tag schema and cosign\'s tags, as their specs spell them', () => {
    expect(referrersTag(D)).toBe(`sha256-${'ab'.repeat(32)}`);
    // sha512 digests are cut to the 128 characters a tag may have.
    expect(referrersTag(`sha512:${'cd'.repeat(64)}`)).toHaveLength(128);
    expect(cosignTag(D, 'sig')).toBe(`sha256-${'ab'.repeat(32)}.sig`);
    expect(cosignTag(D, 'sbom')).toBe(`sha256-${'ab'.repeat(32)}.sbom`);
  });

  it('a referrer lives in its image\'s repository, under its cosign tag or by digest', () => {
    expect(pathRepository('team/app:1.0')).toBe('team/app');
    expect(pathRepository(`x/y@${D}`)).toBe('x/y');
    expect(pathRepository(`x/y:1@${D}`)).toBe('x/y');
    expect(pathRepository('my.team/app')).toBe('my.team/app');
    expect(referrerPath('team/app:1.0', D, undefined)).toBe(`team/app@${D}`);
    expect(referrerPath(`x/y@${D}`, D, cosignTag(D, 'att'))).toBe(`x/y:sha256-${'ab'.repeat(32)}.att`);
  });

  it('an index.json entry is a referrer only with both of its annotations', () => {
    const entry = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D, size: 10 };
    expect(referrerOfEntry({ ...entry, annotations: { 'dev.airgap.referrer.of': 'team/app:1.0', 'dev.airgap.referrer.subject': D } }))
      .toEqual({ of: 'team/app:1.0', subject: D, tag: undefined, path: `team/app@${D}` });
    expect(referrerOfEntry({ ...entry, annotations: { 'dev.airgap.referrer.of': 'team/app:1.0', 'dev.airgap.referrer.subject': D, 'dev.airgap.referrer.tag': 'sha256-x.sig' } })?.path).toBe('team/app:sha256-x.sig');
    expect(referrerOfEntry({ ...entry, annotations: { 'org.opencontainers.image.ref.name': 'team/app:1.0' } })).toBeUndefined();
    expect(referrerOfEntry({ ...entry, annotations: { 'dev.airgap.referrer.of': 'team/app:1.0' } })).toBeUndefined();
  });
});
