/**
 * Reading release files through the yaml Document API, so that every value keeps its line and column
 * and every complaint can point at the spot to fix.
 */
import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Scalar, YAMLMap, YAMLSeq } from 'yaml';
import type { YamlDoc } from '../yaml/documents.ts';
import { AirgapError, ReleaseFileError, messageOf } from '../errors.ts';

export { parseYamlDocuments, type YamlDoc } from '../yaml/documents.ts';

export interface Position {
  line: number;
  column: number;
}

export async function readReleaseText(file: string, what = 'release file'): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err: unknown) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : messageOf(err);
    throw new ReleaseFileError(file, `cannot read ${what}: ${why}`, { cause: err });
  }
}

/** The node an alias points at, or the node itself. */
export function deref(y: YamlDoc, node: unknown): unknown {
  // Resolved once by the reader: Alias.resolve searches the whole document each time.
  return isAlias(node) ? (y.aliases.get(node) ?? node.resolve(y.doc)) : node;
}

export function positionOf(y: YamlDoc, node: unknown): Position | undefined {
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range: unknown = node.range;
  if (!Array.isArray(range) || typeof range[0] !== 'number') return undefined;
  const { line, col } = y.lines.linePos(range[0]);
  return { line, column: col };
}

export function lineOf(y: YamlDoc, node: unknown): number | undefined {
  return positionOf(y, node)?.line;
}

/** A ReleaseFileError pointing at `node`; without a hint of its own it keeps the hint of `cause`. */
export function errorAt(y: YamlDoc, node: unknown, message: string, hint?: string, cause?: unknown): ReleaseFileError {
  const pos = positionOf(y, node);
  const inherited = cause instanceof AirgapError ? cause.hint : undefined;
  return new ReleaseFileError(y.file, message, { line: pos?.line, column: pos?.column, hint: hint ?? inherited, cause });
}

export interface Entry {
  key: string;
  keyNode: unknown;
  value: unknown;
}

/** The pairs of a mapping, keys as strings, values dereferenced. */
export function entries(y: YamlDoc, map: YAMLMap): Entry[] {
  return map.items.map((pair) => {
    const keyNode = deref(y, pair.key);
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    return { key, keyNode, value: deref(y, pair.value) };
  });
}

export function get(y: YamlDoc, map: YAMLMap, key: string): Entry | undefined {
  return entries(y, map).find((entry) => entry.key === key);
}

export function asMap(node: unknown): YAMLMap | undefined {
  return isMap(node) ? node : undefined;
}

export function asSeq(node: unknown): YAMLSeq | undefined {
  return isSeq(node) ? node : undefined;
}

/** A scalar's string value, or undefined when the node is not a string scalar. */
export function stringValue(node: unknown): string | undefined {
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
}

/**
 * A scalar as the text the author meant: YAML reads `version: 1.10` as the number 1.1, but the author
 * meant "1.10", so plain numbers are taken from the source.
 */
export function scalarText(node: Scalar): string {
  if (typeof node.value === 'number' && node.type === 'PLAIN' && node.source !== undefined) return node.source;
  return String(node.value);
}

/** Short description of a node's type, for "expected X, found Y" messages. */
export function describeNode(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    if (node.value === null) return 'nothing';
    return `the ${typeof node.value} ${JSON.stringify(node.value)}`;
  }
  return 'nothing';
}
