/**
 * The files under templates/: read, checked against the variables each declares at its top, and rendered
 * (mustache, logic-less). A value written `{{name}}` is quoted for the file's own format (TOML, YAML, shell),
 * so a value can never break the file's syntax; `{{{name}}}` is written as it is, for comments and values
 * the caller has already checked. No value may hold a line break: a raw one would end a comment early.
 */
import { readFileSync } from 'node:fs';
import Mustache from 'mustache';
import { AirgapError } from '../errors.ts';
import { shellQuote, tomlString, yamlString } from './quote.ts';

/**
 * Set at build time in the single executable (scripts/sea/bundle.ts): it carries no templates/ directory,
 * so their text is built in. Undefined when run from the source tree or dist/.
 */
declare const AIRGAP_TEMPLATES: Readonly<Record<string, string>> | undefined;

export const TEMPLATE_NAMES = ['containerd-hosts.toml', 'registry-config.yml', 'skypilot-config.yaml', 'juju-bootstrap.sh', 'airgap.yaml'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** A value a template may be given: a scalar, a list of items (each a view of its own) or nothing. */
export type TemplateValue = string | number | boolean | readonly string[] | readonly TemplateView[];
export interface TemplateView {
  readonly [name: string]: TemplateValue;
}

export interface Template {
  name: TemplateName;
  text: string;
  /** `name` for a top-level variable, `section.name` for a field of each item of a list. */
  variables: Map<string, string>;
}

/** The text of a template: built in (single executable), or templates/NAME beside src/ and dist/. */
export function templateText(name: TemplateName): string {
  const builtIn = typeof AIRGAP_TEMPLATES === 'undefined' ? undefined : AIRGAP_TEMPLATES[name];
  if (builtIn !== undefined) return builtIn;
  return readFileSync(new URL(`../../templates/${name}`, import.meta.url), 'utf8');
}

const HEADER = /^\{\{!([\s\S]*?)\}\}\n/;
const VARIABLE_LINE = /^ {4}([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?) {2,}(\S.*)$/;

/** The variables a template declares in the `variables:` block of its opening comment. */
export function declaredVariables(name: string, text: string): Map<string, string> {
  const header = HEADER.exec(text)?.[1];
  if (header === undefined) throw new AirgapError(`template ${name} does not open with a {{! ... }} comment naming its variables`);
  const lines = header.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'variables:');
  if (start === -1) throw new AirgapError(`template ${name}: its opening comment has no "variables:" block`);
  const variables = new Map<string, string>();
  let last: string | undefined;
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') continue;
    const match = VARIABLE_LINE.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      last = match[1];
      variables.set(last, match[2]);
    } else if (last !== undefined && /^ {6,}\S/.test(line)) {
      variables.set(last, `${variables.get(last) ?? ''} ${line.trim()}`);
    } else {
      throw new AirgapError(`template ${name}: cannot read the variables line ${JSON.stringify(line)}`);
    }
  }
  return variables;
}

type Span = ReturnType<typeof Mustache.parse>[number];

/** Every name the template uses, each with the sections it sits in, outermost first. */
function usedNames(spans: readonly Span[], sections: readonly string[], out: { name: string; sections: readonly string[]; raw: boolean }[]): void {
  for (const span of spans) {
    const [kind, name] = span;
    if (kind === 'name' || kind === '&') out.push({ name, sections, raw: kind === '&' });
    else if (kind === '#' || kind === '^') {
      out.push({ name, sections, raw: false });
      const children = span[4];
      if (Array.isArray(children)) usedNames(children as Span[], kind === '#' ? [...sections, name] : sections, out);
    }
  }
}

export function loadTemplate(name: TemplateName): Template {
  const text = templateText(name);
  const variables = declaredVariables(name, text);
  const used: { name: string; sections: readonly string[]; raw: boolean }[] = [];
  usedNames(Mustache.parse(text), [], used);
  for (const u of used) {
    // A name resolves in its own item first, then outwards, as mustache looks it up.
    const known = u.name === '.' ? u.sections.length > 0 : variables.has(u.name) || u.sections.some((s) => variables.has(`${s}.${u.name}`));
    if (!known) throw new AirgapError(`template ${name} uses {{${u.name}}}, which its variables: block does not declare`);
  }
  for (const declared of variables.keys()) {
    const [first, second] = declared.split('.');
    const isUsed = used.some((u) => (second === undefined ? u.name === first : u.name === second && u.sections.includes(first ?? '')));
    if (!isUsed) throw new AirgapError(`template ${name} declares ${declared} but never uses it`);
  }
  return { name, text, variables };
}

function escaperFor(name: TemplateName): (value: string) => string {
  if (name.endsWith('.toml')) return tomlString;
  if (name.endsWith('.sh')) return shellQuote;
  return yamlString;
}

/** Raw values go into comments as they are: a line break there would end the comment. */
function checkRawValues(view: TemplateView, path: string): void {
  for (const [key, value] of Object.entries(view)) {
    if (typeof value === 'string' && /[\r\n]/.test(value)) throw new AirgapError(`template value ${path}${key} holds a line break`);
    if (Array.isArray(value)) {
      for (const item of value as readonly (string | TemplateView)[]) {
        if (typeof item === 'string') {
          if (/[\r\n]/.test(item)) throw new AirgapError(`template value ${path}${key} holds a line break`);
        } else checkRawValues(item, `${path}${key}.`);
      }
    }
  }
}

/**
 * Render `name` with `view`. The view must give every top-level variable the template declares and no
 * other: a misspelt or forgotten one is a bug here, not something to render silently as empty.
 */
export function renderTemplate(name: TemplateName, view: TemplateView): string {
  const template = loadTemplate(name);
  const topLevel = [...template.variables.keys()].filter((v) => !v.includes('.'));
  const missing = topLevel.filter((v) => !(v in view));
  const extra = Object.keys(view).filter((v) => !template.variables.has(v));
  if (missing.length > 0 || extra.length > 0) {
    throw new AirgapError(`template ${name} rendered with the wrong variables: missing ${missing.join(', ') || 'none'}; unknown ${extra.join(', ') || 'none'}`);
  }
  checkRawValues(view, '');
  return Mustache.render(template.text.replace(HEADER, ''), view, {}, { escape: escaperFor(name) });
}
