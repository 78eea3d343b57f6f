import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { charmBaseTag, charmManifestBases, jujuImages, parseJujuVersion } from '../../src/config/juju-images.ts';

const execFileAsync = promisify(execFile);
const CHARMS = resolve(import.meta.dirname, '../fixtures/ckf/release-1.8/charms');

describe('the Juju images to carry', () => {
  it('reads versions as juju version prints them, and tags images as Juju does', () => {
    expect(parseJujuVersion('3.4.0-genericlinux-amd64')).toEqual({ major: 3, minor: 4, tag: '3.4.0' });
    expect(parseJujuVersion('2.9.46-ubuntu-amd64')).toEqual({ major: 2, minor: 9, tag: '2.9.46' });
    expect(parseJujuVersion('3.5-beta1-genericlinux-arm64')).toEqual({ major: 3, minor: 5, tag: '3.5-beta1' });
    expect(parseJujuVersion('3.4.0.1')).toEqual({ major: 3, minor: 4, tag: '3.4.0.1' });
    expect(() => parseJujuVersion('latest')).toThrow(/is not X\.Y\.Z/);
    expect(charmBaseTag({ name: 'ubuntu', channel: '22.04' })).toBe('ubuntu-22.04');
    expect(charmBaseTag({ name: 'ubuntu', channel: '22.04/stable' })).toBe('ubuntu-22.04');
    expect(charmBaseTag({ name: 'ubuntu', channel: '24.04/edge' })).toBe('ubuntu-24.04-edge');
    expect(() => charmBaseTag({ name: 'ubuntu', channel: 'jammy' })).toThrow(/not TRACK\[\/RISK\]/);
  });

  it('Juju 3: jujud-operator at the version, juju-db 4.4, one charm-base per base of the carried charms, each with why', async () => {
    // The Charmed Kubeflow 1.8 charms' own manifest.yaml (test/fixtures/ckf/release-1.8/README.md).
    const files = (await readdir(CHARMS)).filter((f) => f.endsWith('.charm')).sort();
    const charms = await Promise.all(files.map(async (file) => {
      const { stdout } = await execFileAsync('unzip', ['-p', join(CHARMS, file), 'manifest.yaml']);
      return { charm: file.replace(/_r\d+\.charm$/, ''), bases: charmManifestBases(stdout, file) };
    }));
    const images = jujuImages('3.4.0-genericlinux-amd64', charms);
    expect(images.map((i) => i.reference)).toEqual([
      'docker.io/jujusolutions/jujud-operator:3.4.0',
      'docker.io/jujusolutions/juju-db:4.4',
      ...[...new Set(charms.flatMap((c) => c.bases.map((b) => `docker.io/jujusolutions/charm-base:${charmBaseTag(b)}`)))].sort(),
    ]);
    expect(images.map((i) => i.path)).toContain('jujusolutions/charm-base:ubuntu-20.04');
    expect(images[1]?.why).toBe('the controller\'s database (MongoDB 4.4 for Juju 3.4)');
    const base2004 = images.find((i) => i.path === 'jujusolutions/charm-base:ubuntu-20.04');
    expect(base2004?.why).toMatch(/^the charm container of every sidecar charm on ubuntu 20\.04: admission-webhook, argo-controller, dex-auth and \d+ more$/);
  });

  it('Juju 2.9 runs MongoDB 4.0; versions it does not know are refused, not guessed', () => {
    expect(jujuImages('2.9.46', []).map((i) => i.path)).toEqual(['jujusolutions/jujud-operator:2.9.46', 'jujusolutions/juju-db:4.0']);
    expect(() => jujuImages('4.0.0', [])).toThrow(/knows the Kubernetes images of Juju 2\.9 and 3\.x, not of 4\.0\.0/);
    expect(() => jujuImages('2.8.10', [])).toThrow(/not of 2\.8\.10/);
  });

  it('a manifest.yaml without bases is an error naming the charm', () => {
    expect(() => charmManifestBases('charmcraft-version: 2.6.0\n', 'x.charm')).toThrow(/x\.charm: manifest\.yaml has no bases: list/);
    expect(charmManifestBases('bases:\n- name: ubuntu\n  channel: 22.04\n', 'y.charm')).toEqual([{ name: 'ubuntu', channel: '22.04' }]);
  });
});
