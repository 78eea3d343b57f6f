import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { declaredVariables, loadTemplate, renderTemplate, TEMPLATE_NAMES, templateText } from '../../src/config/template.ts';

const execFileAsync = promisify(execFile);

/** A string with every character a careless template would break on. */
const HOSTILE = 'a "quoted" \\back\\slash\' $HOME `cmd` #hash: {brace} [x] \t tab ü';

describe('templates/', () => {
  it('every template names its variables at its top, and uses exactly those', () => {
    for (const name of TEMPLATE_NAMES) {
      const template = loadTemplate(name);
      expect(template.variables.size, name).toBeGreaterThan(3);
      expect(templateText(name).startsWith('{{!'), name).toBe(true);
    }
  });

  it('refuses a template that uses an undeclared variable, or declares one it never uses', () => {
    expect(() => declaredVariables('x', 'no header\n')).toThrow(/does not open with a \{\{! \.\.\. \}\} comment/);
    expect(declaredVariables('x', '{{!\n  variables:\n    a   the a\n    b.c   a field\n      continued\n}}\n')).toEqual(new Map([['a', 'the a'], ['b.c', 'a field continued']]));
  });

  it('refuses a view that misses or adds a variable, and a value with a line break', () => {
    expect(() => renderTemplate('registry-config.yml', { tool: 'x' })).toThrow(/missing registry, url/);
    expect(() => renderTemplate('juju-bootstrap.sh', {
      tool: 't', registry: 'r', caas_image_repo: 'r/j', has_images: false, images: [], no_version: true, cloud: 'microk8s', controller: '',
      has_credentials: false, username: '', repository_json: '""', server_json: '""', extra: 1,
    })).toThrow(/unknown extra/);
    expect(() => renderTemplate('registry-config.yml', {
      tool: 'x\ny', registry: 'r', url: 'u', addr: ':1', storage_dir: '/s', tls_cert: '/c', tls_key: '/k', htpasswd: '', realm: 'r',
    })).toThrow(/tool holds a line break/);
  });

  it('quotes every value for the format: hostile values parse back unchanged (YAML, TOML, shell)', async () => {
    const yamlText = renderTemplate('registry-config.yml', {
      tool: 'airgap', registry: 'reg:5000', url: 'https://reg:5000', addr: ':5000', storage_dir: HOSTILE, tls_cert: HOSTILE, tls_key: '/k', htpasswd: HOSTILE, realm: HOSTILE,
    });
    const config = parseYaml(yamlText) as { storage: { filesystem: { rootdirectory: string } }; auth: { htpasswd: { realm: string; path: string } } };
    expect(config.storage.filesystem.rootdirectory).toBe(HOSTILE);
    expect(config.auth.htpasswd).toEqual({ realm: HOSTILE, path: HOSTILE });

    const tomlText = renderTemplate('containerd-hosts.toml', {
      tool: 'airgap', install_dir: '/etc/containerd/certs.d', host: 'docker.io', registry: 'reg:5000', server: HOSTILE, mirror: true, mirror_url: HOSTILE, ca: HOSTILE,
    });
    const hosts = parseToml(tomlText) as { server: string; host: Record<string, { ca: string }> };
    expect(hosts.server).toBe(HOSTILE);
    expect(hosts.host[HOSTILE]?.ca).toBe(HOSTILE);

    const script = renderTemplate('juju-bootstrap.sh', {
      tool: 'airgap', registry: 'reg:5000', caas_image_repo: 'reg:5000/jujusolutions', has_images: false, images: [], no_version: true, cloud: 'microk8s', controller: '',
      has_credentials: true, username: HOSTILE, repository_json: JSON.stringify(HOSTILE), server_json: '"reg:5000"',
    });
    await execFileAsync('sh', ['-n', '-c', script]);
    expect(script).toContain(`'a "quoted" \\back\\slash'\\'' $HOME`);
  });
});
