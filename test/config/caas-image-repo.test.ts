import { describe, expect, it } from 'vitest';
import { caasImageRepository, expectedCaasImageRepo, judgeCaasImageRepo } from '../../src/config/caas-image-repo.ts';

describe('the controller\'s caas-image-repo', () => {
  it('is expected at REGISTRY[/PREFIX]/jujusolutions, where airgap load puts Juju\'s images', () => {
    expect(expectedCaasImageRepo('reg:5000')).toBe('reg:5000/jujusolutions');
    expect(expectedCaasImageRepo('reg:5000/mirror/')).toBe('reg:5000/mirror/jujusolutions');
  });

  it('reads a plain repository or Juju\'s JSON form, never keeping its credentials', () => {
    expect(caasImageRepository('reg:5000/jujusolutions')).toBe('reg:5000/jujusolutions');
    expect(caasImageRepository('{"repository":"reg:5000/jujusolutions","serveraddress":"reg:5000","password":"s3cret"}')).toBe('reg:5000/jujusolutions');
    expect(caasImageRepository('')).toBeUndefined();
    expect(caasImageRepository(undefined)).toBeUndefined();
  });

  it('ok only for the private registry; unset, Docker Hub or elsewhere is said with the fix', () => {
    expect(judgeCaasImageRepo({ 'caas-image-repo': 'reg:5000/jujusolutions/' }, 'reg:5000')).toMatchObject({ ok: true });
    const unset = judgeCaasImageRepo({ 'api-port': 17070 }, 'reg:5000');
    expect(unset).toMatchObject({ ok: false, current: undefined });
    expect(unset.detail).toContain('Docker Hub');
    expect(unset.fix).toContain('--config caas-image-repo=reg:5000/jujusolutions');
    expect(unset.fix).toContain('--mirror-for docker.io');
    const hub = judgeCaasImageRepo({ 'caas-image-repo': 'jujusolutions' }, 'reg:5000');
    expect(hub.detail).toBe('caas-image-repo is jujusolutions, not reg:5000/jujusolutions where airgap load puts Juju\'s images; charm pods will fail with ImagePullBackOff unless jujusolutions has them');
    const ecr = judgeCaasImageRepo({ 'caas-image-repo': '{"repository":"public.ecr.aws/juju","password":"s3cret"}' }, 'reg:5000');
    expect(ecr.fix).toContain('--mirror-for public.ecr.aws');
    expect(JSON.stringify(ecr)).not.toContain('s3cret');
  });
});
