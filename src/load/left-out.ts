/**
 * A differential archive (`collect --since`) leaves out the layers its base release carried: before anything
 * is pushed, each must be found in the target registry, in the repository of a base image that carries it
 * (HEAD, -j at once). A registry that lacks any stops the load, naming the release to load first.
 */
import { baseRelease, missingBaseError } from '../archive/differential.ts';
import type { LeftOutBlob, Lock } from '../lock.ts';
import type { RegistryHost } from '../store/registry/client.ts';
import { Limiter } from '../util/limiter.ts';
import { targetOf, type RegistryLocation } from './target.ts';

/** Digest of each left-out layer -> a repository of the registry that holds it. */
export async function findLeftOutLayers(lock: Lock, host: RegistryHost, location: RegistryLocation, registry: string, concurrency: number): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (lock.base === undefined || lock.leftOut === undefined) return found;
  const limiter = new Limiter(concurrency);
  const missing: LeftOutBlob[] = [];
  await Promise.all(lock.leftOut.map((blob) => limiter.run(async () => {
    // Where the base put it first, then where this release's own images would have it (a re-run).
    const users = lock.blobs?.find((b) => b.digest === blob.digest)?.images ?? [];
    const repositories = [...new Set([...blob.baseImages, ...users].map((path) => targetOf(location, path).repository))];
    for (const repository of repositories) {
      if (await host.hasBlob(repository, blob.digest, `layer ${blob.digest} (left out of this differential archive)`)) {
        found.set(blob.digest, repository);
        return;
      }
    }
    missing.push(blob);
  })));
  if (missing.length > 0) {
    // In the lock's order, so the layer named is the same on every run.
    const order = new Map(lock.leftOut.map((b, i) => [b.digest, i]));
    missing.sort((a, b) => (order.get(a.digest) ?? 0) - (order.get(b.digest) ?? 0));
    throw missingBaseError(lock, lock.base, `the registry ${registry}`, missing, 'nothing was pushed', `load ${baseRelease(lock.base)} first, then this archive`);
  }
  return found;
}
