/** Where images are pulled from: --mirror and containers-registries.conf(5) version 2. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMirrorFlag, pullSources, readRegistriesConf, readSystemRegistriesConf, userRegistriesConf, type MirrorMap, type RegistriesConfLocation } from '../../src/collect/mirrors.ts';
import { useTempDir } from '../support/tmp.ts';

const tmp = useTempDir('airgap-mirrors-');
async function conf(text: string): Promise<MirrorMap> {
  const file = join(tmp.path, `registries-${Math.random().toString(16).slice(2)}.conf`);
  await writeFile(file, text);
  return readRegistriesConf(file);
}

const where = (sources: { registry: string; repository: string }[]): string[] => sources.map((s) => `${s.registry}/${s.repository}`);

describe('--mirror REGISTRY=MIRROR[/PREFIX]', () => {
  it('puts the whole repository under the mirror\'s prefix, and is the only source', () => {
    const map: MirrorMap = { rules: [parseMirrorFlag('docker.io=artifactory.example.com/dockerhub')], insecureHosts: [] };
    expect(where(pullSources('docker.io/library/ubuntu:22.04', map))).toEqual(['artifactory.example.com/dockerhub/library/ubuntu']);
    expect(where(pullSources('gcr.io/ml-pipeline/frontend:2.0.5', map))).toEqual(['gcr.io/ml-pipeline/frontend']);
  });

  it('refuses what is not REGISTRY=MIRROR', () => {
    expect(() => parseMirrorFlag('docker.io')).toThrow('--mirror docker.io: expected REGISTRY=MIRROR[/PREFIX]');
    expect(() => parseMirrorFlag('docker.io=https://mirror')).toThrow('it has a URL scheme');
  });
});

describe('registries.conf', () => {
  it('tries the mirrors in order, then the registry itself; the longest prefix wins; --mirror wins over the file', async () => {
    const map = await conf(`
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "nexus.example.com:8443/dockerhub"
[[registry.mirror]]
location = "harbor.example.com/proxy"
insecure = true

[[registry]]
prefix = "docker.io/kubeflowkatib"
location = "katib.example.com/mirror"
`);
    expect(where(pullSources('docker.io/library/busybox:1.28', map))).toEqual(['nexus.example.com:8443/dockerhub/library/busybox', 'harbor.example.com/proxy/library/busybox', 'docker.io/library/busybox']);
    expect(where(pullSources('docker.io/kubeflowkatib/katib-ui:v0.16.0', map))).toEqual(['katib.example.com/mirror/katib-ui']);
    expect(map.insecureHosts).toEqual(['harbor.example.com']);
    const both: MirrorMap = { rules: [parseMirrorFlag('docker.io=cache.local:5000'), ...map.rules], insecureHosts: [] };
    expect(where(pullSources('docker.io/library/busybox:1.28', both))).toEqual(['cache.local:5000/library/busybox']);
  });

  it('blocked: mirrors only; pull-from-mirror and mirror-by-digest-only choose by reference kind', async () => {
    const map = await conf(`
[[registry]]
prefix = "quay.io"
blocked = true
[[registry.mirror]]
location = "by-digest.example.com"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "by-tag.example.com"
pull-from-mirror = "tag-only"
`);
    expect(where(pullSources('quay.io/a/b:1', map))).toEqual(['by-tag.example.com/a/b']);
    expect(where(pullSources(`quay.io/a/b@sha256:${'a'.repeat(64)}`, map))).toEqual(['by-digest.example.com/a/b']);
  });

  it('a missing file is no mirrors; a file that is not TOML is an error with its line', async () => {
    expect(await readRegistriesConf(join(tmp.path, 'absent.conf'))).toEqual({ rules: [], insecureHosts: [] });
    await expect(conf('[[registry]\nprefix = "x"\n')).rejects.toThrow(/registries-\w+\.conf:1: not valid TOML/);
    await expect(conf('[[registry]]\ninsecure = true\n')).rejects.toThrow('[[registry]] #1 has neither prefix nor location');
  });
});

describe('registries.conf.d drop-ins', () => {
  const scope = async (name: string, main: string | undefined, dropIns: Record<string, string>): Promise<RegistriesConfLocation> => {
    const dir = await tmp.files(name, { ...(main === undefined ? {} : { 'registries.conf': main }), ...Object.fromEntries(Object.entries(dropIns).map(([file, text]) => [`registries.conf.d/${file}`, text])) });
    return { file: join(dir, 'registries.conf'), dropInDir: join(dir, 'registries.conf.d') };
  };
  /** The machine's files, and a user with none. */
  const system = async (main: string | undefined, dropIns: Record<string, string>): Promise<{ system: RegistriesConfLocation; user: RegistriesConfLocation }> =>
    ({ system: await scope('system', main, dropIns), user: await scope('user', undefined, {}) });

  it('are read after the main file in alphanumeric order: a later [[registry]] replaces the one of the same prefix, its insecure flag with it', async () => {
    const paths = await system(
      '[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "old-mirror.example.com"\ninsecure = true\n\n[[registry]]\nprefix = "quay.io"\n[[registry.mirror]]\nlocation = "quay-mirror.example.com"\n',
      {
        '20-gcr.conf': '[[registry]]\nprefix = "gcr.io"\nblocked = true\n[[registry.mirror]]\nlocation = "gcr-mirror.example.com"\n',
        '10-hub.conf': '[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "new-mirror.example.com"\n',
        'README': 'not a .conf file: never read, even if it is not TOML [',
      },
    );
    const map = await readSystemRegistriesConf(undefined, paths);
    expect(map.rules.map((r) => r.prefix)).toEqual(['quay.io', 'docker.io', 'gcr.io']);
    expect(where(pullSources('docker.io/library/ubuntu:22.04', map))).toEqual(['new-mirror.example.com/library/ubuntu', 'docker.io/library/ubuntu']);
    expect(where(pullSources('gcr.io/ml-pipeline/frontend:2.0.5', map))).toEqual(['gcr-mirror.example.com/ml-pipeline/frontend']);
    expect(where(pullSources('quay.io/metallb/speaker:v0.13.3', map))).toEqual(['quay-mirror.example.com/metallb/speaker', 'quay.io/metallb/speaker']);
    expect(map.insecureHosts).toEqual([]);
  });

  it('count without a main file; a drop-in that is not TOML is an error naming it', async () => {
    const paths = await system(undefined, { 'a.conf': '[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "m.example.com"\n' });
    expect((await readSystemRegistriesConf(undefined, paths)).rules.map((r) => r.prefix)).toEqual(['docker.io']);
    const broken = await system(undefined, { 'b.conf': '[[registry]\n' });
    await expect(readSystemRegistriesConf(undefined, broken)).rejects.toThrow(`${join(broken.system.dropInDir, 'b.conf')}:1: not valid TOML`);
  });

  it('of the user are read after the machine\'s; the user\'s own registries.conf, when there is one, replaces the machine\'s and its drop-ins', async () => {
    const hub = (mirror: string): string => `[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "${mirror}"\n`;
    const machine = await scope('machine', `${hub('machine.example.com')}\n[[registry]]\nprefix = "quay.io"\nblocked = true\n`, { '10.conf': '[[registry]]\nprefix = "gcr.io"\n[[registry.mirror]]\nlocation = "gcr-machine.example.com"\n' });
    const userDropIns = await scope('user-drop-ins', undefined, { '10.conf': hub('user-drop-in.example.com') });
    const withDropIns = await readSystemRegistriesConf(undefined, { system: machine, user: userDropIns });
    expect(withDropIns.rules.map((r) => r.prefix)).toEqual(['quay.io', 'gcr.io', 'docker.io']);
    expect(where(pullSources('docker.io/library/ubuntu:22.04', withDropIns))).toEqual(['user-drop-in.example.com/library/ubuntu', 'docker.io/library/ubuntu']);

    const userFile = await scope('user-file', hub('user-file.example.com'), { '20.conf': '[[registry]]\nprefix = "ghcr.io"\n[[registry.mirror]]\nlocation = "ghcr-user.example.com"\n' });
    const own = await readSystemRegistriesConf(undefined, { system: machine, user: userFile });
    // Nothing of the machine's: neither its quay.io block nor its gcr.io drop-in.
    expect(own.rules.map((r) => r.prefix)).toEqual(['docker.io', 'ghcr.io']);
    expect(where(pullSources('docker.io/library/ubuntu:22.04', own))).toEqual(['user-file.example.com/library/ubuntu', 'docker.io/library/ubuntu']);
  });

  it('of the user are found under $XDG_CONFIG_HOME when it is absolute, else under ~/.config', () => {
    expect(userRegistriesConf({ HOME: '/home/op', XDG_CONFIG_HOME: '/srv/conf' })).toEqual({ file: '/srv/conf/containers/registries.conf', dropInDir: '/srv/conf/containers/registries.conf.d' });
    expect(userRegistriesConf({ HOME: '/home/op', XDG_CONFIG_HOME: 'relative' })).toEqual({ file: '/home/op/.config/containers/registries.conf', dropInDir: '/home/op/.config/containers/registries.conf.d' });
  });

  it('are not read when a file is named (CONTAINERS_REGISTRIES_CONF): that file is the whole configuration', async () => {
    const paths = await system('', { 'a.conf': '[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "m.example.com"\n' });
    const named = join(await tmp.dir('named'), 'named.conf');
    await writeFile(named, '');
    expect(await readSystemRegistriesConf(named, paths)).toEqual({ rules: [], insecureHosts: [] });
  });
});
