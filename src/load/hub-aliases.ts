/**
 * Docker Hub's one-segment names, also under `library/`. A workload that names `busybox:1.28` is pulled by
 * containerd as docker.io/library/busybox:1.28, and through the mirror `airgap config containerd
 * --mirror-for docker.io` sets up it asks the private registry for library/busybox. load puts such an image
 * at its path (busybox:1.28: what deploy rewrites references to) and at library/busybox:1.28, the same
 * manifests: the blobs are mounted into the second repository, nothing is uploaded twice.
 */
import type { Lock } from '../lock.ts';
import { pathRepository, tryParseReference } from '../reference.ts';

const DOCKER_HUB = 'docker.io';

/**
 * Image path -> its `library/` path, for every image of the lock at a one-segment path whose upstream is
 * Docker Hub's library/ image of that name, unless the release carries that path itself (the lock lists every
 * image the archive may hold). Without a lock the upstream is unknown (a one-segment path may as well be
 * registry.k8s.io/pause): no alias.
 */
export function hubLibraryAliases(lock: Lock | undefined): Map<string, string> {
  const images = lock?.images ?? [];
  const carried = new Set(images.map((i) => i.path));
  const aliases = new Map<string, string>();
  for (const image of images) {
    const repository = pathRepository(image.path);
    if (repository.includes('/')) continue;
    // The image must be Docker Hub's library/NAME itself: what containerd asks for when a workload says NAME.
    const upstream = tryParseReference(image.upstream);
    if (upstream?.registry !== DOCKER_HUB || upstream.repository !== `library/${repository}`) continue;
    const alias = `library/${image.path}`;
    if (!carried.has(alias)) aliases.set(image.path, alias);
  }
  return aliases;
}
