/**
 * The one way YAML from outside is read: release files, bundles, manifests, kubeconfigs and command-line
 * values all come through here. YAML aliases let a file of a few hundred bytes stand for billions of nodes
 * (ten aliases per level, nine levels), and a file of nothing but `---` lines for millions of documents;
 * whoever walks such a file hangs. So the number of documents and the nodes reached through aliases are
 * limited, every alias is resolved once (later walks look it up instead of searching the document), and
 * the parse gives the event loop a turn every few milliseconds so that Ctrl-C stops it.
 */
import { Composer, Lexer, LineCounter, Parser, isAlias, isCollection, isNode, isPair, isScalar } from 'yaml';
import type { Alias, Document, Node, ParsedNode } from 'yaml';
import { ReleaseFileError } from '../errors.ts';
import { checkpoint } from '../util/checkpoint.ts';

export const YAML_LIMITS = {
  /** More documents than any release or manifest file holds (Kubeflow's whole install is about 1,500 objects). */
  maxDocuments: 10_000,
  /**
   * Nodes reached through aliases, over the whole file, may be this many times the file's own nodes, or
   * `minAliasNodes`, whichever is more: a large file that shares blocks through aliases stays far below,
   * an alias bomb (a few hundred nodes standing for billions) goes past it within its first levels. Any
   * walk of what is read then costs at most a fixed multiple of the file's size.
   */
  aliasExpansion: 10,
  minAliasNodes: 100_000,
  /** What parseSmallYaml reads without pausing: far more than a charm's YAML, a bundle or a command-line value. */
  maxSmallText: 1024 * 1024,
} as const;

/** One YAML document of a file, with what is needed to turn node offsets into lines. */
export interface YamlDoc {
  file: string;
  lines: LineCounter;
  doc: Document.Parsed;
  /** The node each alias of the document stands for, resolved once by the reader. */
  aliases: ReadonlyMap<Alias, Node>;
}

export interface ParseYamlOptions {
  /** Stops the parse (with the signal's reason) when it fires. */
  signal?: AbortSignal;
}

/**
 * Every document of `text`, checked against YAML_LIMITS; a syntax error, or a limit passed, becomes a
 * ReleaseFileError naming `file` and the line.
 */
export async function parseYamlDocuments(file: string, text: string, options: ParseYamlOptions = {}): Promise<YamlDoc[]> {
  const pause = checkpoint(options.signal);
  const reader = new DocumentReader(file);
  // What parseAllDocuments does, one lexical token at a time, so the loop can pause between tokens.
  const parser = new Parser(reader.lines.addNewLine);
  const composer = new Composer();
  reader.lines.addNewLine(0);
  const lexer = new Lexer();
  let count = 0;
  for (const lexeme of lexer.lex(text)) {
    for (const token of parser.next(lexeme)) for (const doc of composer.next(token)) reader.add(doc);
    // Reading the clock for every token would cost more than the tokens.
    if (++count % 512 === 0) await pause();
  }
  for (const token of parser.end()) for (const doc of composer.next(token)) reader.add(doc);
  for (const doc of composer.end()) reader.add(doc);
  await pause();
  return reader.docs;
}

/**
 * Every document of a small text read in one go (a charm's manifest.yaml, a command-line value): the same
 * limits, no pauses, so the text itself is limited too.
 */
export function parseSmallYaml(file: string, text: string, options: { uniqueKeys?: boolean } = {}): YamlDoc[] {
  if (text.length > YAML_LIMITS.maxSmallText) {
    throw new ReleaseFileError(file, `${text.length} characters of YAML where at most ${YAML_LIMITS.maxSmallText} are expected: refusing to read it`);
  }
  const reader = new DocumentReader(file);
  for (const doc of new Composer(options).compose(new Parser(reader.lines.addNewLine).parse(text))) reader.add(doc);
  return reader.docs;
}

/**
 * A YAML value given on the command line (`--set app.option=VALUE`), as JavaScript, under the same
 * limits. Undefined when it is not one valid YAML document.
 */
export function parseYamlValue(text: string): unknown {
  let docs: YamlDoc[];
  try {
    docs = parseSmallYaml('the value', text);
  } catch (err: unknown) {
    if (err instanceof ReleaseFileError) return undefined;
    throw err;
  }
  return docs.length === 1 ? plainValue(docs[0]) : undefined;
}

/** A document as plain JavaScript (undefined for none). */
export function plainValue(y: YamlDoc | undefined): unknown {
  // The reader has bounded what aliases expand to; toJS's own per-anchor count would refuse less.
  return y?.doc.toJS({ maxAliasCount: -1 });
}

/** Takes documents as the composer makes them, refusing what is broken or too big before keeping it. */
class DocumentReader {
  readonly lines = new LineCounter();
  readonly docs: YamlDoc[] = [];
  readonly #file: string;
  #ownNodes = 0;
  #aliasNodes = 0;

  constructor(file: string) {
    this.#file = file;
  }

  add(doc: Document.Parsed): void {
    const error = doc.errors[0];
    if (error !== undefined) {
      const { line, col } = this.lines.linePos(error.pos[0]);
      throw new ReleaseFileError(this.#file, `invalid YAML: ${error.message.split('\n')[0] ?? error.message}`, { cause: error, line, column: col });
    }
    if (this.docs.length >= YAML_LIMITS.maxDocuments) {
      throw new ReleaseFileError(this.#file, `more than ${YAML_LIMITS.maxDocuments} YAML documents: refusing to read a file this size`, {
        line: this.lines.linePos(doc.range[0]).line,
        hint: 'split the manifests into several files',
      });
    }
    this.docs.push({ file: this.#file, lines: this.lines, doc, aliases: this.#resolveAliases(doc) });
  }

  /**
   * Walks the document in order (as Alias.resolve searches it: the last anchor of that name before the
   * alias), resolving each alias and adding up the nodes it stands for. Sizes are remembered per node,
   * so the walk is linear in the document however deep the aliases nest.
   */
  #resolveAliases(doc: Document.Parsed): Map<Alias, Node> {
    const anchors = new Map<string, Node>();
    const targets = new Map<Alias, Node>();
    const sizes = new Map<Node, number>();
    const pending: unknown[] = [doc.contents];
    while (pending.length > 0) {
      const node = pending.pop();
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        // An alias with no anchor is a syntax error the composer has already reported.
        if (target === undefined) continue;
        targets.set(node, target);
        this.#aliasNodes += this.#sizeOf(target, targets, sizes, node);
        const allowed = Math.max(YAML_LIMITS.minAliasNodes, YAML_LIMITS.aliasExpansion * this.#ownNodes);
        if (this.#aliasNodes > allowed) {
          throw new ReleaseFileError(this.#file, `YAML aliases here expand the file past ${allowed} nodes, more than ${YAML_LIMITS.aliasExpansion} times its own size: refusing to read it (an alias bomb?)`, {
            ...this.#position(node),
            hint: 'write the repeated values out instead of aliasing them',
          });
        }
        continue;
      }
      if (!isNode(node)) continue;
      this.#ownNodes++;
      if (node.anchor !== undefined) anchors.set(node.anchor, node);
      if (isCollection(node)) {
        // Pushed in reverse, so they come off the stack in document order.
        for (let i = node.items.length - 1; i >= 0; i--) {
          const item = node.items[i];
          if (isPair(item)) pending.push(item.value, item.key);
          else pending.push(item);
        }
      }
    }
    return targets;
  }

  /** How many nodes `root` stands for, aliases inside it counted as what they stand for. */
  #sizeOf(root: Node, targets: Map<Alias, Node>, sizes: Map<Node, number>, alias: Alias): number {
    interface Frame {
      node: Node;
      children: unknown[];
      next: number;
      total: number;
    }
    const open = new Set<Node>();
    const frames: Frame[] = [];
    const enter = (value: unknown): number | undefined => {
      if (!isNode(value)) return 0;
      const known = sizes.get(value);
      if (known !== undefined) return known;
      if (isScalar(value)) return 1;
      if (open.has(value)) {
        throw new ReleaseFileError(this.#file, 'a YAML alias refers to a node that contains it: the value would be endless', {
          ...this.#position(alias),
          hint: 'an alias must refer to an anchor outside itself',
        });
      }
      if (isAlias(value)) {
        const target = targets.get(value);
        if (target === undefined) {
          // Only an alias inside the node it refers to is met before the walk has resolved it.
          throw new ReleaseFileError(this.#file, 'a YAML alias refers to a node that contains it: the value would be endless', {
            ...this.#position(value),
            hint: 'an alias must refer to an anchor outside itself',
          });
        }
        open.add(value);
        frames.push({ node: value, children: [target], next: 0, total: 0 });
        return undefined;
      }
      const children: unknown[] = [];
      if (isCollection(value)) for (const item of value.items) if (isPair(item)) children.push(item.key, item.value); else children.push(item);
      open.add(value);
      frames.push({ node: value, children, next: 0, total: 1 });
      return undefined;
    };
    let result = enter(root);
    while (frames.length > 0) {
      const top = frames[frames.length - 1] as Frame;
      if (result !== undefined) {
        top.total += result;
        result = undefined;
      }
      if (top.next < top.children.length) {
        result = enter(top.children[top.next++]);
        continue;
      }
      frames.pop();
      open.delete(top.node);
      sizes.set(top.node, top.total);
      result = top.total;
    }
    return result ?? 0;
  }

  #position(node: ParsedNode | Alias): { line?: number; column?: number } {
    const start = node.range?.[0];
    if (start === undefined) return {};
    const { line, col } = this.lines.linePos(start);
    return { line, column: col };
  }
}
