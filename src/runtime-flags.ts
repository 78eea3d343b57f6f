/**
 * V8 settings for the airgap process, applied by its entry points (bin/airgap.js, src/sea-entry.ts) before a
 * command starts; never by the library, which may share a process with other work (the tests).
 *
 * The young generation is kept at its starting size. Every chunk a command streams (a download, a read of
 * the cache or the archive, an upload) is a short-lived buffer whose memory V8 frees only when the small
 * object that owns it is collected. By default V8 grows the young generation up to 16 MiB per semi-space
 * on a long stream, and collects it so much less often that tens of megabytes of finished chunks stay
 * allocated between collections: peak memory grew with the release (collect 158 MiB on a 200 MB release,
 * 181 MiB on 2 GB). Kept small, it is collected often and cheaply, the same memory is reused while it is
 * still in the CPU's caches, and both memory and time drop: on the bench, collect 117 and 129 MiB, and
 * about a fifth faster. `--semi-space-growth-factor` is read each time V8 would grow the space, so it
 * takes effect when set at run time, unlike the space's maximum size (`--max-semi-space-size`).
 */
import { setFlagsFromString } from 'node:v8';

export function tuneRuntime(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
