import { describe, expect, it } from 'vitest';
import { findImageReferences, isResourceImage } from '../../src/release/strings.ts';

const P = '172.17.0.2:5000';
const SHA = `sha256:${'ab'.repeat(32)}`;

describe('findImageReferences', () => {
  const rows: [string, string, string[]][] = [
    ['a plain value', `${P}/istio/proxyv2:1.16.2`, [`${P}/istio/proxyv2:1.16.2`]],
    ['an untagged image under a host with a port', `${P}/google-containers/busybox`, [`${P}/google-containers/busybox`]],
    ['a Python-list string', `['${P}/a/b:v1.7.0_20.04_1','${P}/c/d:v1.7.0']`, [`${P}/a/b:v1.7.0_20.04_1`, `${P}/c/d:v1.7.0`]],
    ['a JSON-like map with a trailing comma', `{ "mt-broker-filter/filter": "${P}/x/filter:1.0", "migrate": "${P}/y/migrate:2.0", }`, [`${P}/x/filter:1.0`, `${P}/y/migrate:2.0`]],
    ['the istio image-configuration', `{"pilot-image": "pilot", "global-tag": "1.16.2", "global-hub": "${P}/istio", "grpc-bootstrap-init": "busybox:1.28"}`, [`${P}/istio`, 'busybox:1.28']],
    ['key=value pairs', 'image=quay.io/a/b:1 other=x', ['quay.io/a/b:1']],
    ['a host-less name with a path and a tag', 'kubeflow/notebook:v1', ['kubeflow/notebook:v1']],
    ['a host-less name with a version tag', 'python:3.7', ['python:3.7']],
    ['a host-less name tagged latest', 'nginx:latest', ['nginx:latest']],
    ['a host-less name with a digest', `alpine@${SHA}`, [`alpine@${SHA}`]],
    ['an untagged image under a known registry', 'gcr.io/distroless/static', ['gcr.io/distroless/static']],
    ['repeats, in order', `a/b:1 c/d:2 a/b:1`, ['a/b:1', 'c/d:2', 'a/b:1']],
    ['an http URL', 'http://example.com/foo:1.0', []],
    ['an https URL of an image', 'https://quay.io/metallb/speaker:v0.13.3', []],
    ['a version number', '1.7', []],
    ['a boolean word', 'true', []],
    ['a key:word pair', 'kind:ingress', []],
    ['a host:port', 'localhost:5000', []],
    ['a service host:port', 'mysql:3306', []],
    ['a time', '12:30', []],
    ['a constraint', 'mem=2G', []],
    ['a PATH', '/usr/local/bin:/usr/bin', []],
    ['a relative file', './charms/foo.charm', []],
    ['an API group', 'serving.knative.dev/v1', []],
    ['a word with capitals', 'NodePort', []],
    ['YAML-ish text', 'key: value', []],
    ['a name without tag or host', 'istio/proxyv2', []],
  ];
  it.each(rows)('%s', (_what, text, expected) => {
    expect(findImageReferences(text)).toEqual(expected);
  });

  it('takes an untagged name under the placeholder host as an image', () => {
    expect(findImageReferences('reg.internal/team/app')).toEqual([]);
    expect(findImageReferences('reg.internal/team/app', { placeholder: 'reg.internal' })).toEqual(['reg.internal/team/app']);
  });
});

describe('isResourceImage', () => {
  it.each([
    [`${P}/dexidp/dex:v2.31.2`, true],
    [`${P}/google-containers/busybox`, true],
    ['busybox:1.28', true],
    [`x@${SHA}`, true],
    ['2', false],
    ['model.tar', false],
    ['./crd.yaml', false],
    ['python', false],
  ])('%s -> %s', (value, expected) => {
    expect(isResourceImage(value)).toBe(expected);
  });
});
