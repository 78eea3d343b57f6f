import { stringify } from 'yaml';
import { UsageError } from '../errors.ts';
import { parseYamlValue } from '../yaml/documents.ts';

export interface OptionSetting {
  application: string;
  option: string;
  value: string | number | boolean;
}

/** `--set APP.OPTION=VALUE`, e.g. istio-ingressgateway.gateway_service_type=LoadBalancer. */
export function parseSetting(text: string): OptionSetting {
  const match = /^([a-z0-9][a-z0-9-]*)\.([^=]+)=(.*)$/s.exec(text);
  if (match === null) throw new UsageError(`--set ${text}: expected APP.OPTION=VALUE, e.g. istio-ingressgateway.gateway_service_type=LoadBalancer`);
  const [, application = '', option = '', raw = ''] = match;
  // Juju checks option types: `true` and `42` must reach it as a boolean and an int, not as strings.
  let value: string | number | boolean = raw;
  // Not YAML on its own (a string with a colon and more): it stays a string.
  const typed = parseYamlValue(raw);
  if (typeof typed === 'boolean' || typeof typed === 'number') value = typed;
  return { application, option, value };
}

/** A bundle overlay setting the options: passed to `juju deploy --overlay`. */
export function overlayText(settings: readonly OptionSetting[]): string {
  const applications: Record<string, { options: Record<string, string | number | boolean> }> = {};
  for (const s of settings) {
    applications[s.application] ??= { options: {} };
    const app = applications[s.application];
    if (app !== undefined) app.options[s.option] = s.value;
  }
  return `# written by airgap deploy from --set\n${stringify({ applications })}`;
}
