/** Images an option value names or builds: the hub + name + tag rule. */
import { describe, expect, it } from 'vitest';
import { findOptionImages, hubAt } from '../../src/release/option-images.ts';

describe('findOptionImages', () => {
  it('builds each bare image name under the hub with the tag, and keeps written references', () => {
    const scan = findOptionImages("pilot-image: 'pilot'\nglobal-tag: '1.17.3'\nglobal-hub: 'docker.io/istio'\nglobal-proxy-image: 'proxyv2'\ngrpc-bootstrap-init: 'busybox:1.28'\n");
    expect(scan.images).toEqual([
      { reference: 'busybox:1.28', built: undefined },
      { reference: 'docker.io/istio/pilot:1.17.3', built: 'global-hub + pilot-image + global-tag' },
      { reference: 'docker.io/istio/proxyv2:1.17.3', built: 'global-hub + global-proxy-image + global-tag' },
    ]);
    expect(scan.hubs).toEqual(['docker.io/istio']);
  });

  it('reads JSON-like maps with a trailing comma (the 1.7 bundle) and Helm-style nesting', () => {
    expect(findOptionImages('{"global-hub": "172.17.0.2:5000/istio", "global-tag": "1.16.2", "pilot-image": "pilot", }').images.map((i) => i.reference))
      .toEqual(['172.17.0.2:5000/istio/pilot:1.16.2']);
    expect(findOptionImages('global:\n  hub: quay.io/team\n  tag: "1.10"\npilot:\n  image: pilot\n').images.map((i) => i.reference)).toEqual(['quay.io/team/pilot:1.10']);
  });

  it('builds nothing without both a hub and a tag, or from names that are references already', () => {
    expect(findOptionImages('hub: docker.io/istio\npilot-image: pilot\n').images).toEqual([]);
    expect(findOptionImages('hub: docker.io/istio\ntag: 1.0\nimage: quay.io/x/y:1\n').images.map((i) => i.reference)).toEqual(['quay.io/x/y:1']);
    expect(findOptionImages('not: [valid').images).toEqual([]);
  });

  it('moves a hub to another registry as its images move', () => {
    expect(hubAt('docker.io/istio', 'reg.local:5000/kf')).toBe('reg.local:5000/kf/istio');
    expect(hubAt('istio', 'reg.local')).toBe('reg.local/istio');
  });
});
