import { describe, expect, it } from 'vitest';
import { isMap, isSeq } from 'yaml';
import { parseSetting } from '../../src/deploy/overlay.ts';
import { CancelledError, ReleaseFileError } from '../../src/errors.ts';
import { deref } from '../../src/release/yaml.ts';
import { YAML_LIMITS, parseSmallYaml, parseYamlDocuments, parseYamlValue } from '../../src/yaml/documents.ts';
import { aliasBomb, aliasHeavyManifests } from '../support/yaml-bombs.ts';

async function failure(text: string): Promise<ReleaseFileError> {
  const err = await parseYamlDocuments('/r/x.yaml', text).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ReleaseFileError);
  return err as ReleaseFileError;
}

describe('parseYamlDocuments', () => {
  it('refuses the alias bomb of issue 16 (999 bytes, a billion pods) at the line where it passes the limit', async () => {
    const bomb = aliasBomb();
    expect(bomb.length).toBeLessThan(1000);
    const err = await failure(bomb);
    expect(err.message).toMatch(/^\/r\/x\.yaml:\d+:\d+: YAML aliases here expand the file past 100000 nodes, more than 10 times its own size: refusing to read it/);
    // Ten pods are 220 nodes, each level ten times the one below: the level of 220,000 is the first too many.
    expect(err.line).toBe(3 + 4);
    expect(err.hint).toContain('write the repeated values out');
  });

  it('refuses the bomb at the end of a large file too, however much came before it', async () => {
    const err = await failure(`${aliasHeavyManifests(300)}---\n${aliasBomb(12)}`);
    expect(err.message).toContain('YAML aliases here expand the file past');
  });

  it('reads a large file that shares blocks through aliases throughout, every alias resolved', async () => {
    const docs = await parseYamlDocuments('/r/x.yaml', aliasHeavyManifests(2000));
    expect(docs).toHaveLength(2000);
    const last = docs[1999];
    if (last === undefined) throw new Error('no last document');
    const containers = last.doc.getIn(['spec', 'template', 'spec', 'containers'], true);
    if (!isSeq(containers)) throw new Error('no containers');
    const sidecar = containers.items[1];
    if (!isMap(sidecar)) throw new Error('no sidecar');
    const env = deref(last, sidecar.get('env', true));
    expect(isSeq(env) && env.items.length).toBe(8);
    expect(last.aliases.size).toBe(3);
  });

  it('refuses an alias inside the node it refers to', async () => {
    const err = await failure('apiVersion: v1\nkind: List\nitems: &loop\n  - *loop\n');
    expect(err.message).toContain('a YAML alias refers to a node that contains it');
    expect(err.line).toBe(4);
  });

  it(`refuses more than ${YAML_LIMITS.maxDocuments} documents`, async () => {
    const err = await failure('a: 1\n---\n'.repeat(YAML_LIMITS.maxDocuments + 1));
    // The 10,001st document starts at its `---` line.
    expect(err.message).toBe(`/r/x.yaml:${2 * YAML_LIMITS.maxDocuments}: more than ${YAML_LIMITS.maxDocuments} YAML documents: refusing to read a file this size`);
  });

  it('names the line and column of a syntax error', async () => {
    const err = await failure('a: 1\nb: [1, 2\nc: 3\n');
    expect(err.message).toMatch(/^\/r\/x\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('stops with the reason of the signal', async () => {
    const controller = new AbortController();
    controller.abort(new CancelledError('interrupted'));
    await expect(parseYamlDocuments('/r/x.yaml', 'a: 1\n', { signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('parseSmallYaml', () => {
  it('holds a charm\'s manifest.yaml to the same limits, and to a size', () => {
    expect(() => parseSmallYaml('x.charm!manifest.yaml', aliasBomb())).toThrow(/^x\.charm!manifest\.yaml:7:\d+: YAML aliases here expand the file past/);
    expect(() => parseSmallYaml('x.charm!manifest.yaml', `a: "${'x'.repeat(YAML_LIMITS.maxSmallText)}"\n`)).toThrow(/x\.charm!manifest\.yaml: \d+ characters of YAML where at most 1048576 are expected/);
    expect(parseSmallYaml('x.charm!manifest.yaml', 'bases: [{name: ubuntu, channel: "22.04"}]\n')[0]?.doc.toJS()).toEqual({ bases: [{ name: 'ubuntu', channel: '22.04' }] });
  });
});

describe('parseYamlValue', () => {
  it('types a command-line value, and keeps a bomb from expanding', () => {
    expect(parseYamlValue('true')).toBe(true);
    expect(parseYamlValue('42')).toBe(42);
    expect(parseYamlValue('a: [1')).toBeUndefined();
    expect(parseYamlValue(aliasBomb())).toBeUndefined();
    expect(parseSetting(`app.opt=${aliasBomb()}`).value).toBe(aliasBomb());
  });
});
