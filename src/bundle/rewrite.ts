import { isMap, isPair, isScalar, isSeq, visit } from 'yaml';
import { tryParseReference } from '../reference.ts';
import { findImageReferences } from '../release/strings.ts';
import { parseYamlDocuments, type YamlDoc } from '../release/yaml.ts';

/** One image reference changed by the rewrite, where it sits in the file. */
export interface RewrittenReference {
  yamlPath: string;
  line: number;
  before: string;
  after: string;
}

/** A reference the rewrite cannot redirect: it names a public registry and no collected image. */
export interface UnreachableReference {
  yamlPath: string;
  line: number;
  reference: string;
}

export interface RewriteOptions {
  placeholder: string;
  /** The private registry, HOST[:PORT][/PREFIX]: what the placeholder host becomes. */
  registry: string;
  /**
   * References without the placeholder host that the lock collected (busybox:1.28 listed in images:,
   * quay.io/metallb/speaker:v0.13.3 written in full) -> their private reference.
   */
  collected: ReadonlyMap<string, string>;
}

export interface RewriteResult {
  text: string;
  rewritten: RewrittenReference[];
  unreachable: UnreachableReference[];
}

interface Span {
  start: number;
  end: number;
  replacement: string;
}

// A reference ends where the option-string syntax around it begins.
const TOKEN_END = /[\s"'`,;=()[\]{}]/;
// Characters that may stand right before a reference in an option string (or the start of the text).
const TOKEN_START_OK = /[\s"'`,;=([{]/;

function pathOf(ancestors: readonly unknown[], self: unknown, doc: YamlDoc, docIndex: number, docCount: number): string {
  const parts: string[] = [];
  const chain = [...ancestors, self];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1];
    const node = chain[i];
    if (isPair(parent)) {
      if (node === parent.key) return parts.join('.');
      const key = isScalar(parent.key) ? String(parent.key.value) : '?';
      parts.push(key);
    } else if (isSeq(parent)) {
      const index = parent.items.indexOf(node as never);
      const last = parts.pop() ?? '';
      parts.push(`${last}[${index}]`);
    }
  }
  const path = parts.join('.').replace(/^\./, '');
  if (docCount <= 1) return path;
  // A Kubernetes file: name the object the path is in, as kubectl users know it.
  const root = doc.doc.contents;
  if (isMap(root)) {
    const kind = root.get('kind');
    const metadata = root.get('metadata');
    const name = isMap(metadata) ? metadata.get('name') : undefined;
    if (typeof kind === 'string' && typeof name === 'string') return `${kind}/${name}:${path}`;
  }
  return `[${docIndex}].${path}`;
}

function tokenAt(text: string, start: number, limit: number): string {
  let end = start;
  while (end < limit && !TOKEN_END.test(text[end] ?? ' ')) end++;
  return text.slice(start, end);
}

/**
 * The edits one string needs: the placeholder host wherever it stands, and collected references without
 * it (whole tokens only, never inside a longer name). `offset` places the string in its file.
 */
function editsFor(text: string, from: number, to: number, options: RewriteOptions): { spans: Span[]; found: { before: string; after: string }[] } {
  const spans: Span[] = [];
  const found: { before: string; after: string }[] = [];
  const source = text.slice(from, to);
  for (let at = source.indexOf(options.placeholder); at >= 0; at = source.indexOf(options.placeholder, at + options.placeholder.length)) {
    const start = from + at;
    const before = tokenAt(text, start, to);
    spans.push({ start, end: start + options.placeholder.length, replacement: options.registry });
    found.push({ before, after: options.registry + before.slice(options.placeholder.length) });
  }
  for (const [reference, target] of options.collected) {
    for (let at = source.indexOf(reference); at >= 0; at = source.indexOf(reference, at + reference.length)) {
      const start = from + at;
      const prev = start === from ? ' ' : (text[start - 1] ?? ' ');
      const next = start + reference.length === to ? ' ' : (text[start + reference.length] ?? ' ');
      if (!TOKEN_START_OK.test(prev) || !TOKEN_END.test(next)) continue;
      spans.push({ start, end: start + reference.length, replacement: target });
      found.push({ before: reference, after: target });
    }
  }
  return { spans, found };
}

function applySpans(text: string, spans: Span[]): string {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  let out = '';
  let cursor = 0;
  for (const span of sorted) {
    if (span.start < cursor) continue;
    out += text.slice(cursor, span.start) + span.replacement;
    cursor = span.end;
  }
  return out + text.slice(cursor);
}

/** The tagged references left in a string that point at a registry the cluster cannot reach. */
function unreachableIn(value: string, options: RewriteOptions): string[] {
  return findImageReferences(value, { placeholder: options.placeholder }).filter((reference) => {
    if (reference.startsWith(options.placeholder) || options.collected.has(reference)) return false;
    const parsed = tryParseReference(reference);
    return parsed !== undefined && (parsed.tag !== undefined || parsed.digest !== undefined);
  });
}

/** Rewrite one plain string (an extra charm's resource or config value). */
export function rewriteString(value: string, options: RewriteOptions): { value: string; found: { before: string; after: string }[]; unreachable: string[] } {
  const { spans, found } = editsFor(value, 0, value.length, options);
  return { value: applySpans(value, spans), found, unreachable: unreachableIn(value, options) };
}

/**
 * Replace the placeholder host in every string of a YAML file, and collected references without it by
 * their private location, changing the text only where they stand: comments, key order, quoting and
 * every other byte of the file stay as written. The YAML is parsed only to find the strings and name
 * their paths; the edit is made on the original text.
 */
export async function rewriteYamlText(file: string, text: string, options: RewriteOptions, signal?: AbortSignal): Promise<RewriteResult> {
  const docs = await parseYamlDocuments(file, text, { signal });
  const spans: Span[] = [];
  const rewritten: RewrittenReference[] = [];
  const unreachable: UnreachableReference[] = [];
  docs.forEach((y, docIndex) => {
    visit(y.doc, {
      Scalar(_key, node, ancestors) {
        if (typeof node.value !== 'string' || node.range === undefined || node.range === null) return;
        const parent = ancestors[ancestors.length - 1];
        if (isPair(parent) && parent.key === node) return;
        const [from, to] = node.range;
        const yamlPath = pathOf(ancestors, node, y, docIndex, docs.length);
        const line = y.lines.linePos(from).line;
        const edits = editsFor(text, from, to, options);
        spans.push(...edits.spans);
        for (const f of edits.found) rewritten.push({ yamlPath, line, ...f });
        for (const reference of unreachableIn(node.value, options)) unreachable.push({ yamlPath, line, reference });
      },
    });
  });
  return { text: applySpans(text, spans), rewritten, unreachable };
}
