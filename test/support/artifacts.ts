/**
 * Signatures, SBOMs and attestations as the tools that make them push them, built by hand over the distribution
 * API (no cosign binary is available here). Two conventions:
 * - cosign's tags (sigstore/cosign specs/SIGNATURE_SPEC.md, ATTESTATION_SPEC.md, SBOM_SPEC.md): an image manifest
 *   at `sha256-<hex>.sig` (a simple-signing payload layer with the signature in an annotation), `.att` (a DSSE
 *   envelope layer with its predicateType) or `.sbom` (the SBOM document as the layer), no `subject`;
 * - OCI 1.1 artifacts (image-spec manifest.md): `artifactType`, the empty config, a `subject`; on a registry
 *   without the referrers API the pusher also keeps the referrers tag schema's index at `sha256-<hex>`
 *   (distribution-spec spec.md, "Pushing Manifests with Subject").
 * Payload bytes are made up but shaped as the real ones; nothing here verifies a signature.
 */
import { createHash } from 'node:crypto';
import { uploadBlob } from './seed.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') };

export interface Subject {
  mediaType: string;
  digest: string;
  size: number;
}

export interface PushedArtifact extends Subject {
  bytes: Buffer;
  artifactType?: string;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function blob(base: string, repository: string, bytes: Buffer, mediaType: string, annotations?: Record<string, string>): Promise<Subject & { annotations?: Record<string, string> }> {
  const digest = sha256(bytes);
  await uploadBlob(base, repository, bytes, digest, undefined);
  return { mediaType, digest, size: bytes.length, ...(annotations === undefined ? {} : { annotations }) };
}

export async function putManifest(base: string, repository: string, reference: string, doc: object, mediaType = OCI_MANIFEST): Promise<PushedArtifact & { ociSubject: string | null }> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const res = await fetch(`${base}/v2/${repository}/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'content-type': mediaType } });
  if (res.status !== 201) throw new Error(`PUT ${repository}/manifests/${reference}: HTTP ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  const artifactType = (doc as { artifactType?: string }).artifactType;
  return { mediaType, digest: sha256(bytes), size: bytes.length, bytes, ociSubject: res.headers.get('oci-subject'), ...(artifactType === undefined ? {} : { artifactType }) };
}

export type CosignKind = 'sig' | 'att' | 'sbom';

/** What cosign sign / attest / attach sbom pushes for `subject`, at its tag `sha256-<hex>.KIND`. */
export async function pushCosignArtifact(base: string, repository: string, subject: Subject, kind: CosignKind): Promise<PushedArtifact> {
  let layer: Subject;
  if (kind === 'sig') {
    const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': repository }, image: { 'docker-manifest-digest': subject.digest }, type: 'cosign container image signature' }, optional: null }));
    layer = await blob(base, repository, payload, 'application/vnd.dev.cosign.simplesigning.v1+json', { 'dev.cosignproject.cosign/signature': createHash('sha512').update(payload).digest('base64') });
  } else if (kind === 'att') {
    const statement = { _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://spdx.dev/Document', subject: [{ name: repository, digest: { sha256: subject.digest.slice(7) } }], predicate: { spdxVersion: 'SPDX-2.3' } };
    const envelope = Buffer.from(JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: Buffer.from(JSON.stringify(statement)).toString('base64'), signatures: [{ keyid: '', sig: 'c2lnbmF0dXJl' }] }));
    layer = await blob(base, repository, envelope, 'application/vnd.dsse.envelope.v1+json', { predicateType: 'https://spdx.dev/Document' });
  } else {
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `${repository}@${subject.digest}`, packages: [] }));
    layer = await blob(base, repository, sbom, 'text/spdx+json');
  }
  const config = Buffer.from(JSON.stringify({ architecture: '', config: {}, created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: [layer.digest] } }));
  const configDescriptor = await blob(base, repository, config, OCI_CONFIG);
  const doc = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers: [layer] };
  return putManifest(base, repository, `${subject.digest.replace(':', '-')}.${kind}`, doc);
}

/**
 * An OCI 1.1 artifact about `subject`, pushed by digest. With `referrersTag`, the pusher also adds it to the
 * subject's referrers tag index, as clients do on a registry that answers no OCI-Subject.
 */
export async function pushOciReferrer(base: string, repository: string, subject: Subject, artifactType: string, payload: string, options: { referrersTag?: boolean } = {}): Promise<PushedArtifact> {
  const layer = await blob(base, repository, Buffer.from(payload), artifactType === 'application/spdx+json' ? 'application/spdx+json' : 'application/octet-stream');
  const config = await blob(base, repository, EMPTY.bytes, EMPTY.mediaType);
  const doc = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config, layers: [layer], subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size }, annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } };
  const bytes = Buffer.from(JSON.stringify(doc));
  const pushed = await putManifest(base, repository, sha256(bytes), doc);
  if (options.referrersTag === true) {
    const tag = subject.digest.replace(':', '-');
    const current = await fetch(`${base}/v2/${repository}/manifests/${tag}`, { headers: { accept: OCI_INDEX } });
    const manifests = current.status === 200 ? ((await current.json()) as { manifests: object[] }).manifests : (await current.arrayBuffer(), []);
    const entry = { mediaType: OCI_MANIFEST, digest: pushed.digest, size: pushed.size, artifactType, annotations: doc.annotations };
    await putManifest(base, repository, tag, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...manifests, entry] }, OCI_INDEX);
  }
  return pushed;
}
