import { describe, expect, it } from 'vitest';
import { challengesFrom, parseWwwAuthenticate } from '../../../src/store/registry/challenge.ts';
import type { AuthChallenge } from '../../../src/store/registry/challenge.ts';

const bearer = (params: Record<string, string>): AuthChallenge => ({ scheme: 'bearer', params });
const basic = (params: Record<string, string>): AuthChallenge => ({ scheme: 'basic', params });

const rows: Array<[string, string, AuthChallenge[]]> = [
  [
    'Docker Hub',
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
    [bearer({ realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull' })],
  ],
  [
    'GHCR',
    'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:canonical/charmed-kubeflow:pull"',
    [bearer({ realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:canonical/charmed-kubeflow:pull' })],
  ],
  [
    'Quay',
    'Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:metallb/speaker:pull"',
    [bearer({ realm: 'https://quay.io/v2/auth', service: 'quay.io', scope: 'repository:metallb/speaker:pull' })],
  ],
  [
    'Harbor',
    'Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",scope="repository:library/nginx:pull,push"',
    [bearer({ realm: 'https://harbor.example.com/service/token', service: 'harbor-registry', scope: 'repository:library/nginx:pull,push' })],
  ],
  ['distribution registry with htpasswd', 'Basic realm="Registry Realm"', [basic({ realm: 'Registry Realm' })]],
  [
    'distribution registry with token auth and insufficient scope',
    'Bearer realm="https://auth.example.com/token",service="Docker registry",scope="repository:samalba/my-app:pull,push",error="insufficient_scope"',
    [
      bearer({
        realm: 'https://auth.example.com/token',
        service: 'Docker registry',
        scope: 'repository:samalba/my-app:pull,push',
        error: 'insufficient_scope',
      }),
    ],
  ],
  [
    'GCR without scope',
    'Bearer realm="https://gcr.io/v2/token",service="gcr.io"',
    [bearer({ realm: 'https://gcr.io/v2/token', service: 'gcr.io' })],
  ],
  [
    'ECR basic',
    'Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"',
    [basic({ realm: 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com/', service: 'ecr.amazonaws.com' })],
  ],
  [
    'two challenges in one header',
    'Basic realm="simple", Bearer realm="https://t.example/token", service="reg"',
    [basic({ realm: 'simple' }), bearer({ realm: 'https://t.example/token', service: 'reg' })],
  ],
  [
    'scheme and parameter names are case-insensitive',
    'BEARER Realm="https://t.example/token",SERVICE="reg"',
    [bearer({ realm: 'https://t.example/token', service: 'reg' })],
  ],
  [
    'whitespace around "=" and ","',
    '  Bearer   realm = "https://t.example/token" ,  service= "reg"  ',
    [bearer({ realm: 'https://t.example/token', service: 'reg' })],
  ],
  [
    'backslash escapes in a quoted string',
    'Basic realm="a \\"quoted\\" realm \\\\ here"',
    [basic({ realm: 'a "quoted" realm \\ here' })],
  ],
  [
    'unquoted values, including a bare URL',
    'Bearer realm=https://t.example/token,service=registry,scope=repository:a/b:pull',
    [bearer({ realm: 'https://t.example/token', service: 'registry', scope: 'repository:a/b:pull' })],
  ],
  ['token68', 'Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg==', [{ scheme: 'negotiate', params: {}, token68: 'YIIBhwYGKwYBBQUCoIIBezCCAXeg==' }]],
  [
    'token68 followed by another challenge',
    'Newauth abc==, Basic realm="r"',
    [{ scheme: 'newauth', params: {}, token68: 'abc==' }, basic({ realm: 'r' })],
  ],
  ['a scheme with no parameters, then another', 'Basic, Bearer realm="x"', [basic({}), bearer({ realm: 'x' })]],
  ['first of a repeated parameter wins', 'Bearer realm="first",realm="second"', [bearer({ realm: 'first' })]],
  ['empty quoted value', 'Basic realm=""', [basic({ realm: '' })]],
  ['empty header', '', []],
  ['only separators', ' , ,, ', []],
  // Malformed input: whatever can be read is returned.
  ['stray commas between parameters', 'Bearer realm="x",,, service="y",', [bearer({ realm: 'x', service: 'y' })]],
  ['unterminated quoted string', 'Bearer realm="https://t.example/tok', [bearer({ realm: 'https://t.example/tok' })]],
  ['missing comma between parameters', 'Bearer realm="x" service="y"', [bearer({ realm: 'x', service: 'y' })]],
  ['junk after a value', 'Bearer realm="x" ][ , service="y"', [bearer({ realm: 'x', service: 'y' })]],
  ['garbage before a scheme', '=== Basic realm="r"', [basic({ realm: 'r' })]],
];

describe('parseWwwAuthenticate', () => {
  it.each(rows)('%s', (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });

  it('never throws on arbitrary bytes', () => {
    const alphabet = 'aB9=", \\\t/:;()[]{}=\u00e9';
    let seed = 42;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      let header = '';
      const length = next() % 40;
      for (let j = 0; j < length; j++) header += alphabet[next() % alphabet.length] ?? '';
      const challenges = parseWwwAuthenticate(header);
      for (const c of challenges) expect(c.scheme).toBe(c.scheme.toLowerCase());
    }
  });
});

describe('challengesFrom', () => {
  it.each([
    ['absent header', undefined, []],
    ['one header line', 'Basic realm="r"', [basic({ realm: 'r' })]],
    [
      'several header lines',
      ['Basic realm="r"', 'Bearer realm="https://t.example/token",service="s"'],
      [basic({ realm: 'r' }), bearer({ realm: 'https://t.example/token', service: 's' })],
    ],
  ] as Array<[string, string | string[] | undefined, AuthChallenge[]]>)('%s', (_name, value, expected) => {
    expect(challengesFrom(value)).toEqual(expected);
  });
});
