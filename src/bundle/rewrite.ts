import { isMap, isPair, isScalar, isSeq, visit } from 'yaml';
import { ReleaseFileError, messageOf } from '../errors.ts';
import { parseReference, tryParseReference } from '../reference.ts';
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
  /** The release's `ignore:`: strings that carry the placeholder but are not images. */
  ignore?: readonly string[];
}

/** A token carrying the placeholder that is not an image reference: rewriting it and moving on would hide it. */
export interface InvalidReference {
  reference: string;
  /** Why it does not parse, from the reference grammar. */
  message: string;
  /** Its offset in the text rewritten. */
  start: number;
}

export const INVALID_REFERENCE_HINT = 'write it as HOST[:PORT]/NAME[:TAG] with a lowercase NAME and a tag of at most 128 letters, digits, _ . -; if it is not an image, list it under ignore: in airgap.yaml';

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
 * Whether the placeholder found at `start` is the host of a token: not part of a longer host
 * (`172.17.0.2:50001`, `x172.17.0.2:5000`). The host of a URL counts: it is swapped too.
 */
function isPlaceholderHost(text: string, start: number, end: number, from: number, to: number): boolean {
  const prev = start === from ? ' ' : (text[start - 1] ?? ' ');
  const next = end === to ? ' ' : (text[end] ?? ' ');
  const startsToken = TOKEN_START_OK.test(prev) || text.slice(Math.max(from, start - 3), start) === '://';
  return startsToken && (next === '/' || TOKEN_END.test(next));
}

/** Why a token carrying the placeholder cannot be rewritten, or undefined when it can. */
function invalidReason(text: string, start: number, token: string, placeholder: string, options: RewriteOptions): string | undefined {
  // The bare host (a registry option) and URLs (`http://HOST/v2/`) are not image references.
  if (token.length <= placeholder.length + 1 || text.slice(start - 3, start) === '://') return undefined;
  if (options.ignore?.includes(token)) return undefined;
  try {
    parseReference(token);
  } catch (err: unknown) {
    return messageOf(err);
  }
  // Valid as written, it may still not be once under the registry's prefix (a name past 255 characters).
  try {
    parseReference(options.registry + token.slice(placeholder.length));
    return undefined;
  } catch (err: unknown) {
    return `rewritten for ${options.registry}: ${messageOf(err)}`;
  }
}

/**
 * The edits one string needs: the placeholder host wherever it stands, and collected references without
 * it (whole tokens only, never inside a longer name). `offset` places the string in its file.
 */
function editsFor(text: string, from: number, to: number, options: RewriteOptions): { spans: Span[]; found: { before: string; after: string }[]; invalid: InvalidReference[] } {
  const spans: Span[] = [];
  const found: { before: string; after: string }[] = [];
  const invalid: InvalidReference[] = [];
  const source = text.slice(from, to);
  for (let at = source.indexOf(options.placeholder); at >= 0; at = source.indexOf(options.placeholder, at + options.placeholder.length)) {
    const start = from + at;
    if (!isPlaceholderHost(text, start, start + options.placeholder.length, from, to)) continue;
    const before = tokenAt(text, start, to);
    const reason = invalidReason(text, start, before, options.placeholder, options);
    if (reason !== undefined) invalid.push({ reference: before, message: reason, start });
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
  return { spans, found, invalid };
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

/** Rewrite one plain string (an extra charm's resource or config value); the caller refuses what is `invalid`. */
export function rewriteString(value: string, options: RewriteOptions): { value: string; found: { before: string; after: string }[]; unreachable: string[]; invalid: InvalidReference[] } {
  const { spans, found, invalid } = editsFor(value, 0, value.length, options);
  return { value: applySpans(value, spans), found, unreachable: unreachableIn(value, options), invalid };
}

/**
 * Replace the placeholder host in every string of a YAML file, and collected references without it by
 * their private location, changing the text only where they stand: comments, key order, quoting and
 * every other byte of the file stay as written. The YAML is parsed only to find the strings and name
 * their paths; the edit is made on the original text. A token carrying the placeholder that is not an
 * image reference is an error at its line: rewritten, it would be skipped by every later check.
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
        const invalid = edits.invalid[0];
        if (invalid !== undefined) {
          const { line: badLine, col } = y.lines.linePos(invalid.start);
          throw new ReleaseFileError(file, `${yamlPath}: ${invalid.message}; it carries the placeholder ${options.placeholder} but cannot be rewritten`, {
            line: badLine,
            column: col,
            hint: INVALID_REFERENCE_HINT,
          });
        }
        spans.push(...edits.spans);
        for (const f of edits.found) rewritten.push({ yamlPath, line, ...f });
        for (const reference of unreachableIn(node.value, options)) unreachable.push({ yamlPath, line, reference });
      },
    });
  });
  return { text: applySpans(text, spans), rewritten, unreachable };
}
