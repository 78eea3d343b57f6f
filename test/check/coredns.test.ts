import { describe, expect, it } from 'vitest';
import { classifyResolver, resolvConfNameservers, resolverAddress, rootForwards } from '../../src/check/coredns.ts';

const MICROK8S = `.:53 {
    errors
    health {
      lameduck 5s
    }
    ready
    log . {
      class error
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . 8.8.8.8 8.8.4.4 {
      max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;

describe('rootForwards', () => {
  it('reads the forward targets of the root zone, not of other zones or nested blocks', () => {
    expect(rootForwards(MICROK8S)).toEqual(['8.8.8.8', '8.8.4.4']);
    const split = `corp.example:53 {\n  forward . 10.1.1.1\n}\n.:53 {\n  # forward . 9.9.9.9\n  forward . /etc/resolv.conf\n}\n`;
    expect(rootForwards(split)).toEqual(['/etc/resolv.conf']);
    expect(rootForwards('. {\n  proxy . 10.0.0.2:53 10.0.0.3\n}\n')).toEqual(['10.0.0.2:53', '10.0.0.3']);
    expect(rootForwards('.:53 {\n  kubernetes cluster.local\n}\n')).toEqual([]);
  });
});

describe('classifyResolver', () => {
  it.each([
    ['/etc/resolv.conf', 'resolv.conf'],
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['tls://9.9.9.9', 'public'],
    ['dns://10.0.0.2:53', 'private'],
    ['172.20.0.10', 'private'],
    ['192.168.1.1', 'private'],
    ['100.100.100.100', 'private'],
    ['[2001:4860:4860::8888]:53', 'public'],
    ['fd00::53', 'private'],
    ['dns.google', 'name'],
  ])('%s is %s', (target, kind) => {
    expect(classifyResolver(target)).toBe(kind);
  });

  it('strips scheme, port and brackets', () => {
    expect(resolverAddress('dns://10.0.0.2:53')).toBe('10.0.0.2');
    expect(resolverAddress('[::1]:53')).toBe('::1');
  });
});

describe('resolvConfNameservers', () => {
  it('lists the nameservers, leaving out the systemd-resolved stub', () => {
    expect(resolvConfNameservers('# x\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\nnameserver 10.0.0.3\n')).toEqual(['10.0.0.2', '10.0.0.3']);
  });
});
