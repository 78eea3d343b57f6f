/**
 * The words every command uses about a differential archive (`collect --since`) whose base is not where it
 * should be: `load` (the target registry) and `serve` (the store) refuse it alike, naming the release to
 * bring first.
 */
import { AirgapError } from '../errors.ts';
import { formatBytes } from '../util/format-bytes.ts';
import type { LeftOutBlob, Lock, LockedBase } from '../lock.ts';

/** `kubeflow 1.8 (lock sha256:0123456789ab…)` */
export function describeBase(base: LockedBase): string {
  return `${baseRelease(base)} (lock ${base.sha256.slice(0, 19)}…)`;
}

/** `kubeflow 1.8` */
export function baseRelease(base: LockedBase): string {
  return `${base.name}${base.version === '' ? '' : ` ${base.version}`}`;
}

/**
 * `where` (the registry, the store) lacks `missing`, layers the archive leaves out because its base release
 * carries them. `nothingDone` says what was spared; `hint` how to bring the base first.
 */
export function missingBaseError(lock: Lock, base: LockedBase, where: string, missing: readonly LeftOutBlob[], nothingDone: string, hint: string): AirgapError {
  const first = missing[0];
  const users = first === undefined ? [] : (lock.blobs?.find((b) => b.digest === first.digest)?.images ?? []);
  const bytes = missing.reduce((n, b) => n + b.size, 0);
  const shown = users.length > 3 ? `${users.slice(0, 3).join(', ')} and ${users.length - 3} more images` : users.join(', ');
  const example = first === undefined ? '' : ` (${first.digest}${users.length === 0 ? '' : `, a layer of ${shown}`}${missing.length > 1 ? `; and ${missing.length - 1} more layers` : ''})`;
  return new AirgapError(
    `this is a differential archive: it builds on ${describeBase(base)}, and ${where} lacks ${missing.length} of the ${lock.leftOut?.length ?? missing.length} layers it leaves out, ${formatBytes(bytes)}${example}; ${nothingDone}`,
    { hint },
  );
}
