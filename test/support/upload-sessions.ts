import type { RunningRegistry } from './registry.ts';
import { sleep } from '../../src/util/sleep.ts';

/**
 * Upload sessions of a real docker-registry that a client left open, read from its access log: every
 * session whose PATCH or PUT did not succeed must have been cancelled with a DELETE. The log, not the
 * storage, is the proof: docker-registry 2.8 re-creates an empty hashstates/ directory when a session it
 * was told to cancel is closed after a broken request, and cannot clean anything on a full disk.
 * A session whose status the registry answered with 404 (BLOB_UPLOAD_UNKNOWN) is gone: there is nothing
 * left to cancel. Gorilla's access log is written after each answer is sent, so the lines are waited for.
 */
export async function uncancelledSessions(registry: RunningRegistry): Promise<{ failed: number; open: string[] }> {
  let result = { failed: 0, open: [] as string[] };
  for (let i = 0; i < 50; i++) {
    const log = registry.logs();
    const failed = [...log.matchAll(/"(?:PUT|PATCH) \/v2\/([^ ]+)\/blobs\/uploads\/([0-9a-f-]{36})\?[^"]*" (\d+)/g)].filter((m) => !['201', '202', '204'].includes(m[3] ?? ''));
    const closed = (m: RegExpMatchArray): boolean =>
      log.includes(`"DELETE /v2/${m[1]}/blobs/uploads/${m[2]}`) || new RegExp(`"GET /v2/${m[1]}/blobs/uploads/${m[2]}[^"]*" 404`).test(log);
    const open = failed.filter((m) => !closed(m)).map((m) => `${m[1]} ${m[2]}`);
    result = { failed: failed.length, open };
    if (open.length === 0) return result;
    await sleep(100);
  }
  return result;
}
