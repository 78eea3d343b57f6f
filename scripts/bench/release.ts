/**
 * The benchmark's release: shaped like Charmed Kubeflow's images. Two shared bases (a 30 MB Python base under
 * the web apps and pipelines, a 10 MB distroless base under nearly everything), per-image layers of 2-20 MB,
 * Docker Hub style images (Docker v2 media types) next to OCI ones, and one multi-arch index (amd64 + arm64 +
 * a buildkit attestation). Layer bytes are random: incompressible, as real gzip layers are.
 */
import type { LayerSpec, TestImageSpec } from '../../test/support/images.ts';

/** Decimal megabytes: the unit of every figure the benchmark prints. */
export const MB = 1_000_000;

interface Shape {
  repository: string;
  tag: string;
  format?: 'oci' | 'docker';
  /** Names of shared bases first, then the image's own layers in MB. */
  bases: ('python' | 'distroless')[];
  own: number[];
  multiArch?: boolean;
}

const SHAPES: readonly Shape[] = [
  { repository: 'kubeflownotebookswg/jupyter-web-app', tag: 'v1.7.0', bases: ['distroless', 'python'], own: [12] },
  { repository: 'kubeflownotebookswg/volumes-web-app', tag: 'v1.7.0', bases: ['distroless', 'python'], own: [9] },
  { repository: 'kubeflownotebookswg/tensorboards-web-app', tag: 'v1.7.0', bases: ['distroless', 'python'], own: [7] },
  { repository: 'kubeflownotebookswg/notebook-controller', tag: 'v1.7.0', bases: ['distroless'], own: [8] },
  { repository: 'kserve/kserve-controller', tag: 'v0.10.0', bases: ['distroless'], own: [14] },
  { repository: 'kserve/models-web-app', tag: 'v0.10.0', bases: ['distroless', 'python'], own: [6] },
  { repository: 'kubeflowkatib/katib-controller', tag: 'v0.15.0', bases: ['distroless'], own: [11] },
  { repository: 'kubeflowkatib/katib-ui', tag: 'v0.15.0', bases: ['distroless'], own: [5, 2] },
  { repository: 'ml-pipeline/api-server', tag: '2.0.0', bases: ['distroless', 'python'], own: [16, 4] },
  { repository: 'ml-pipeline/frontend', tag: '2.0.0', bases: ['python'], own: [20] },
  { repository: 'ml-pipeline/persistenceagent', tag: '2.0.0', bases: ['distroless'], own: [6] },
  { repository: 'kubeflow/training-operator', tag: 'v1-5a5f92d', format: 'docker', bases: ['distroless'], own: [13] },
  { repository: 'metacontroller/metacontroller', tag: 'v2.0.4', bases: ['distroless'], own: [9], multiArch: true },
  { repository: 'arrikto/kubeflow/oidc-authservice', tag: 'e236439', format: 'docker', bases: ['distroless'], own: [3, 2] },
  { repository: 'minio/minio', tag: 'RELEASE.2021-09-03T03-56-13Z', format: 'docker', bases: [], own: [18, 3] },
];

const BASE_MB = { distroless: 10, python: 30 } as const;

/** Layer bytes the shapes add up to at scale 1 (a multi-arch image's own layers count once per platform). */
function nominalMb(): number {
  let total = BASE_MB.distroless + BASE_MB.python;
  for (const shape of SHAPES) for (const mb of shape.own) total += shape.multiArch === true ? 2 * mb : mb;
  return total;
}

export interface BenchRelease {
  images: TestImageSpec[];
  /** How many layer bytes were asked for (the pushed blobs are a little larger: tar and gzip framing). */
  layerBytes: number;
}

/**
 * The next release of the same shape: every image retagged `<tag>-next`, and the own layers whose sizes add up
 * closest to `changedShare` of the layer bytes rebuilt (new seeds), so that the two share the rest.
 */
export function nextBenchRelease(sizeMb: number, changedShare: number): BenchRelease & { changedLayerBytes: number } {
  const current = benchRelease(sizeMb);
  // Own layers (not the shared bases), by [image, layer]: choose the subset whose bytes are closest to the share.
  const own: { image: number; layer: number; bytes: number }[] = [];
  current.images.forEach((image, i) => {
    const shape = SHAPES[i] as Shape;
    image.layers.forEach((layer, l) => {
      if (l >= shape.bases.length) own.push({ image: i, layer: l, bytes: shape.multiArch === true ? 2 * layer.sizeBytes : layer.sizeBytes });
    });
  });
  const target = changedShare * current.layerBytes;
  let best = { mask: 0, bytes: 0 };
  for (let mask = 1; mask < 1 << own.length; mask++) {
    let bytes = 0;
    own.forEach((o, k) => {
      if ((mask & (1 << k)) !== 0) bytes += o.bytes;
    });
    if (Math.abs(bytes - target) < Math.abs(best.bytes - target)) best = { mask, bytes };
  }
  const changed = new Set(own.filter((_, k) => (best.mask & (1 << k)) !== 0).map((o) => `${o.image}/${o.layer}`));
  const images = current.images.map((image, i) => ({
    ...image,
    tag: `${image.tag}-next`,
    layers: image.layers.map((layer, l) => (changed.has(`${i}/${l}`) ? { ...layer, seed: `${String(layer.seed)}-next` } : layer)),
  }));
  return { images, layerBytes: current.layerBytes, changedLayerBytes: best.bytes };
}

/** The release scaled so that its distinct layer content is about `sizeMb` MB. */
export function benchRelease(sizeMb: number): BenchRelease {
  const scale = sizeMb / nominalMb();
  const bytes = (mb: number): number => Math.max(1024, Math.round(mb * scale * MB));
  // Real layers hold many files; a few per layer keeps tar framing realistic without slowing generation.
  const layer = (seed: string, mb: number): LayerSpec => ({ seed, sizeBytes: bytes(mb), files: Math.max(1, Math.min(16, Math.ceil(mb / 2))) });
  const bases = { distroless: layer('bench-base-distroless', BASE_MB.distroless), python: layer('bench-base-python', BASE_MB.python) };
  let layerBytes = bases.distroless.sizeBytes + bases.python.sizeBytes;
  const images = SHAPES.map((shape): TestImageSpec => {
    const own = shape.own.map((mb, i) => layer(`bench-${shape.repository}-${i}`, mb));
    for (const l of own) layerBytes += shape.multiArch === true ? 2 * l.sizeBytes : l.sizeBytes;
    const spec: TestImageSpec = {
      repository: shape.repository,
      tag: shape.tag,
      format: shape.format ?? 'oci',
      layers: [...shape.bases.map((b) => bases[b]), ...own],
    };
    if (shape.multiArch === true) {
      // The last layer is made per platform (images.ts), so amd64 and arm64 share the base and differ on top.
      spec.platforms = [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ];
      spec.attestation = true;
    }
    return spec;
  });
  return { images, layerBytes };
}
