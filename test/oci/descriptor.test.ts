import { describe, expect, it } from 'vitest';
import { AirgapError } from '../../src/errors.ts';
import { digestHex, parseManifest } from '../../src/oci/descriptor.ts';
import { DOCKER_CONFIG, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.ts';

const HEX_A = 'a'.repeat(64);
const HEX_B = 'b'.repeat(64);
const HEX_C = 'c'.repeat(64);

function bytes(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc));
}

function manifestDoc(mediaType: string | undefined, configType = OCI_CONFIG): Record<string, unknown> {
  return {
    schemaVersion: 2,
    ...(mediaType === undefined ? {} : { mediaType }),
    config: { mediaType: configType, digest: `sha256:${HEX_A}`, size: 1469 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${HEX_B}`, size: 2_818_413 }],
  };
}

function indexDoc(mediaType: string | undefined): Record<string, unknown> {
  return {
    schemaVersion: 2,
    ...(mediaType === undefined ? {} : { mediaType }),
    manifests: [
      { mediaType: OCI_MANIFEST, digest: `sha256:${HEX_A}`, size: 528, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: OCI_MANIFEST, digest: `sha256:${HEX_B}`, size: 529, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  };
}

function parseError(run: () => unknown): AirgapError {
  try {
    run();
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(AirgapError);
    return err as AirgapError;
  }
  throw new Error('expected parseManifest to throw');
}

describe('parseManifest: what decides manifest or index', () => {
  it.each([
    // [case, document mediaType, Content-Type or descriptor mediaType, shape, expected kind]
    ['OCI manifest declared in the document', OCI_MANIFEST, undefined, 'manifest', 'manifest'],
    ['Docker v2.2 manifest declared in the document', DOCKER_MANIFEST, undefined, 'manifest', 'manifest'],
    ['OCI index declared in the document', OCI_INDEX, undefined, 'index', 'index'],
    ['Docker manifest list declared in the document', DOCKER_MANIFEST_LIST, undefined, 'index', 'index'],
    ['document mediaType wins over a Content-Type that says index', OCI_MANIFEST, OCI_INDEX, 'manifest', 'manifest'],
    ['document mediaType wins over a Content-Type that says manifest', OCI_INDEX, OCI_MANIFEST, 'index', 'index'],
    ['Content-Type decides an OCI manifest without mediaType', undefined, OCI_MANIFEST, 'manifest', 'manifest'],
    ['Content-Type decides a Docker manifest without mediaType', undefined, DOCKER_MANIFEST, 'manifest', 'manifest'],
    ['Content-Type decides an OCI index without mediaType', undefined, OCI_INDEX, 'index', 'index'],
    ['Content-Type decides a Docker list without mediaType', undefined, DOCKER_MANIFEST_LIST, 'index', 'index'],
    ['application/json Content-Type with a manifest shape', undefined, 'application/json', 'manifest', 'manifest'],
    ['shape decides a manifest when nothing says', undefined, undefined, 'manifest', 'manifest'],
    ['shape decides an index when nothing says', undefined, undefined, 'index', 'index'],
    // The registry client passes '' when a registry sends no Content-Type: that says nothing either.
    ['shape decides a manifest when the Content-Type is empty', undefined, '', 'manifest', 'manifest'],
    ['shape decides an index when the Content-Type is empty', undefined, '', 'index', 'index'],
    // A generic application/json says nothing about which of the two it is.
    ['shape decides an index served as application/json', undefined, 'application/json', 'index', 'index'],
  ] as const)('%s', (_name, docType, contentType, shape, kind) => {
    const doc = shape === 'index' ? indexDoc(docType) : manifestDoc(docType);
    const parsed = parseManifest(bytes(doc), contentType, 'busybox:1.36');
    expect(parsed.kind).toBe(kind);
    if (parsed.kind === 'index') {
      expect(parsed.index.manifests.map((d) => d.digest)).toEqual([`sha256:${HEX_A}`, `sha256:${HEX_B}`]);
    } else {
      expect(parsed.manifest.config.digest).toBe(`sha256:${HEX_A}`);
      expect(parsed.manifest.layers.map((l) => l.size)).toEqual([2_818_413]);
    }
  });

  it('reads a Docker manifest with a Docker config type', () => {
    const parsed = parseManifest(bytes(manifestDoc(DOCKER_MANIFEST, DOCKER_CONFIG)), DOCKER_MANIFEST, 'x');
    expect(parsed.kind === 'manifest' && parsed.manifest.config.mediaType).toBe(DOCKER_CONFIG);
  });

  it('keeps unknown fields of descriptors and documents (they are re-serialised byte-compatible)', () => {
    const doc = indexDoc(OCI_INDEX);
    doc['annotations'] = { 'org.opencontainers.image.created': '2023-01-01' };
    (doc['manifests'] as Record<string, unknown>[])[0]!['x-extra'] = 42;
    const parsed = parseManifest(bytes(doc), undefined, 'x');
    expect(parsed.kind).toBe('index');
    expect(JSON.parse(JSON.stringify(parsed.kind === 'index' ? parsed.index : undefined))).toEqual(doc);
  });

  it('accepts an index with no entries', () => {
    const parsed = parseManifest(bytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }), undefined, 'x');
    expect(parsed).toEqual({ kind: 'index', index: { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] } });
  });

  it('accepts a size of zero (an empty layer)', () => {
    const doc = manifestDoc(OCI_MANIFEST);
    (doc['layers'] as Record<string, unknown>[])[0]!['size'] = 0;
    expect(parseManifest(bytes(doc), undefined, 'x').kind).toBe('manifest');
  });
});

describe('parseManifest: refusals', () => {
  it('refuses Docker schema 1 with a hint to re-push', () => {
    const schema1 = {
      schemaVersion: 1,
      name: 'library/busybox',
      tag: 'latest',
      architecture: 'amd64',
      fsLayers: [{ blobSum: `sha256:${HEX_A}` }],
      history: [],
      signatures: [],
    };
    const err = parseError(() => parseManifest(bytes(schema1), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'old/image:1'));
    expect(err.message).toContain('old/image:1');
    expect(err.message).toContain('schemaVersion 1');
    expect(err.hint).toMatch(/schema 1/);
    expect(err.hint).toMatch(/re-push/);
  });

  it.each([
    ['not JSON at all', Buffer.from('<html>502 Bad Gateway</html>'), /not valid JSON/],
    ['truncated JSON', Buffer.from('{"schemaVersion": 2, "config": {'), /not valid JSON/],
    ['empty body', Buffer.alloc(0), /not valid JSON/],
    ['a JSON array', bytes([manifestDoc(OCI_MANIFEST)]), /not a JSON object/],
    ['JSON null', Buffer.from('null'), /not a JSON object/],
    ['a JSON string', Buffer.from('"manifest"'), /not a JSON object/],
    ['no schemaVersion', bytes({ ...manifestDoc(OCI_MANIFEST), schemaVersion: undefined }), /schemaVersion undefined is not supported/],
    ['schemaVersion as a string', bytes({ ...manifestDoc(OCI_MANIFEST), schemaVersion: '2' }), /schemaVersion 2 is not supported/],
    ['schemaVersion 3', bytes({ ...manifestDoc(OCI_MANIFEST), schemaVersion: 3 }), /schemaVersion 3 is not supported/],
  ])('refuses %s', (_name, body, message) => {
    const err = parseError(() => parseManifest(body, OCI_MANIFEST, 'img:tag'));
    expect(err.message).toMatch(/^img:tag: /);
    expect(err.message).toMatch(message);
  });

  it('keeps the JSON error as the cause', () => {
    const err = parseError(() => parseManifest(Buffer.from('{'), undefined, 'x'));
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });

  it.each([
    ['an unknown document mediaType', { ...manifestDoc('application/vnd.example.thing+json') }, undefined, /unsupported manifest media type application\/vnd\.example\.thing\+json/],
    ['an unknown Content-Type on a document without mediaType', manifestDoc(undefined), 'text/plain', /unsupported manifest media type text\/plain/],
    ['an index type without a manifests list', { schemaVersion: 2, mediaType: OCI_INDEX }, undefined, /index has no manifests list/],
    ['a manifest without config', { schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }, undefined, /config: descriptor is not an object/],
    ['a manifest without a layers list', { ...manifestDoc(OCI_MANIFEST), layers: undefined }, undefined, /manifest has no layers list/],
    ['a manifest whose layers is an object', { ...manifestDoc(OCI_MANIFEST), layers: {} }, undefined, /manifest has no layers list/],
  ])('refuses %s', (_name, doc, contentType, message) => {
    const err = parseError(() => parseManifest(bytes(doc), contentType, 'img:tag'));
    expect(err.message).toMatch(message);
    expect(err.message).toContain('img:tag');
  });
});

describe('parseManifest: descriptors', () => {
  type Bad = Record<string, unknown>;
  const good = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${HEX_C}`, size: 10 };
  const bad: [string, Bad | string | null, RegExp][] = [
    ['not an object', 'sha256:abc', /descriptor is not an object/],
    ['null', null, /descriptor is not an object/],
    ['no mediaType', { digest: good.digest, size: 10 }, /descriptor has no mediaType/],
    ['a numeric mediaType', { ...good, mediaType: 5 }, /descriptor has no mediaType/],
    ['no digest', { mediaType: good.mediaType, size: 10 }, /digest undefined is not a sha256 digest/],
    ['a sha512 digest', { ...good, digest: `sha512:${'c'.repeat(128)}` }, /is not a sha256 digest/],
    ['a digest without algorithm', { ...good, digest: HEX_C }, /is not a sha256 digest/],
    ['a short digest', { ...good, digest: `sha256:${'c'.repeat(63)}` }, /is not a sha256 digest/],
    ['a long digest', { ...good, digest: `sha256:${'c'.repeat(65)}` }, /is not a sha256 digest/],
    ['an upper-case digest', { ...good, digest: `sha256:${'C'.repeat(64)}` }, /is not a sha256 digest/],
    ['a digest with a non-hex character', { ...good, digest: `sha256:${'g'.repeat(64)}` }, /is not a sha256 digest/],
    ['a digest with trailing space', { ...good, digest: `sha256:${HEX_C} ` }, /is not a sha256 digest/],
    ['no size', { mediaType: good.mediaType, digest: good.digest }, /has no valid size/],
    ['a negative size', { ...good, size: -1 }, /has no valid size/],
    ['a fractional size', { ...good, size: 1.5 }, /has no valid size/],
    ['a size as a string', { ...good, size: '10' }, /has no valid size/],
    ['a size beyond 2^53', { ...good, size: 2 ** 53 }, /has no valid size/],
  ];

  it.each(bad)('refuses a layer with %s, naming where', (_name, layer, message) => {
    const doc = { ...manifestDoc(OCI_MANIFEST), layers: [good, layer] };
    const err = parseError(() => parseManifest(bytes(doc), undefined, 'img:tag'));
    expect(err.message).toMatch(message);
    expect(err.message).toContain('img:tag layers[1]');
  });

  it.each(bad)('refuses an index entry with %s, naming where', (_name, entry, message) => {
    const doc = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry] };
    const err = parseError(() => parseManifest(bytes(doc), undefined, 'img:tag'));
    expect(err.message).toMatch(message);
    expect(err.message).toContain('img:tag manifests[0]');
  });

  it.each(bad)('refuses a config with %s, naming where', (_name, config, message) => {
    const doc = { ...manifestDoc(OCI_MANIFEST), config };
    const err = parseError(() => parseManifest(bytes(doc), undefined, 'img:tag'));
    expect(err.message).toMatch(message);
    expect(err.message).toContain('img:tag config');
  });

  it('names the offending digest when only the size is wrong', () => {
    const doc = { ...manifestDoc(OCI_MANIFEST), layers: [{ ...good, size: -5 }] };
    const err = parseError(() => parseManifest(bytes(doc), undefined, 'x'));
    expect(err.message).toContain(`sha256:${HEX_C}`);
  });
});

describe('digestHex', () => {
  it.each([
    [`sha256:${HEX_A}`, HEX_A],
    [`sha512:${'d'.repeat(128)}`, 'd'.repeat(128)],
    [HEX_B, HEX_B],
    ['', ''],
    ['sha256:', ''],
  ])('%s -> %s', (digest, hex) => {
    expect(digestHex(digest)).toBe(hex);
  });
});
