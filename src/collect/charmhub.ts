/**
 * A stock bundle's Charmhub charms, downloaded on the online side as Canonical's release scripts do it
 * (`juju download`), once per distinct charm + channel + revision + base, then read for their images.
 */
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AirgapError, messageOf } from '../errors.ts';
import { scanCharm, type CharmScan } from '../charm/scan.ts';
import { Juju, JujuCommandError, JujuNotFoundError } from '../deploy/juju.ts';
import { sha256OfFile } from '../fs/sha256-file.ts';
import type { CharmhubCharm } from '../release/index.ts';
import { fulfilledOrThrow, settleConcurrently } from '../util/concurrency.ts';

export interface DownloadedCharm {
  /** The applications of the bundle deploying it (mysql-k8s serves katib-db and kfp-db). */
  applications: string[];
  charm: string;
  channel: string | undefined;
  revision: number | undefined;
  base: string | undefined;
  /** Its name in charms.tar.gz and in the generated bundle: `<charm>_r<revision>.charm`, as Juju names it. */
  file: string;
  /** Where it is on disk now. */
  path: string;
  sha256: string;
  size: number;
  scan: CharmScan;
}

export interface DownloadOptions {
  /** Where the charm files are written. */
  dir: string;
  jujuPath?: string;
  charmhubUrl?: string;
  concurrency?: number;
  signal?: AbortSignal;
  onDownloading?: (charm: string, channel: string | undefined, applications: readonly string[]) => void;
  onDownloaded?: (charm: DownloadedCharm) => void;
}

interface DownloadGroup {
  key: string;
  first: CharmhubCharm;
  applications: string[];
}

function groups(charms: readonly CharmhubCharm[]): DownloadGroup[] {
  const byKey = new Map<string, DownloadGroup>();
  for (const c of charms) {
    const key = JSON.stringify([c.charm, c.channel ?? '', c.revision ?? '', c.base ?? '']);
    const group = byKey.get(key);
    if (group === undefined) byKey.set(key, { key, first: c, applications: [c.application] });
    else group.applications.push(c.application);
  }
  return [...byKey.values()];
}

// Juju 3 says `Fetching charm "mysql-k8s" revision 127 using "8.0/stable" channel and base "amd64/ubuntu/22.04"`.
const FETCHED_REVISION = /Fetching charm "[^"]*" revision (\d+)/;

/** Where a download failure is reported: the bundle line of the first application asking for the charm. */
function whereOf(group: DownloadGroup): string {
  const { first } = group;
  return `${first.file}${first.line === undefined ? '' : `:${first.line}`}`;
}

/**
 * Download every Charmhub charm of the release into `options.dir` and read each for its images. A charm that
 * cannot be downloaded fails the whole step, naming its applications and Juju's own message.
 */
export async function downloadCharms(charms: readonly CharmhubCharm[], options: DownloadOptions): Promise<DownloadedCharm[]> {
  if (charms.length === 0) return [];
  const juju = new Juju({ ...(options.jujuPath === undefined ? {} : { jujuPath: options.jujuPath }), ...(options.signal === undefined ? {} : { signal: options.signal }) });
  const all = groups(charms);
  try {
    await juju.version();
  } catch (err: unknown) {
    if (!(err instanceof JujuNotFoundError)) throw err;
    const names = [...new Set(charms.map((c) => c.application))];
    throw new AirgapError(
      `${charms[0]?.file ?? 'the bundle'}: ${names.length} application(s) name Charmhub charms (${names.slice(0, 4).join(', ')}${names.length > 4 ? ', ...' : ''}), which collect downloads with \`juju download\`, but ${err.message}`,
      { cause: err, hint: 'install Juju on this online machine (sudo snap install juju --classic) or pass --juju PATH; or give local charm files: charm: ./NAME.charm beside the bundle' },
    );
  }
  const settled = await settleConcurrently(all, options.concurrency ?? 4, async (group, index) => {
    const { first } = group;
    options.onDownloading?.(first.charm, first.channel, group.applications);
    const partial = join(options.dir, `.download-${index}-${first.charm}.charm`);
    let stderr: string;
    try {
      ({ stderr } = await juju.run(juju.downloadCommand({ charm: first.charm, channel: first.channel, revision: first.revision, base: first.base, filepath: partial, charmhubUrl: options.charmhubUrl })));
    } catch (err: unknown) {
      await rm(partial, { force: true });
      const said = err instanceof JujuCommandError ? err.stderrTail.filter((line) => !line.startsWith('Fetching')).join(' ') || err.message : messageOf(err);
      throw new AirgapError(`${whereOf(group)}: cannot download charm ${first.charm}${first.channel === undefined ? '' : ` (channel ${first.channel})`} for ${group.applications.join(', ')}: ${said}`, {
        cause: err,
        hint: 'check the charm name and channel in the bundle (juju info NAME lists the channels), and that this machine reaches Charmhub (or pass --charmhub-url)',
      });
    }
    const revision = first.revision ?? Number(FETCHED_REVISION.exec(stderr)?.[1] ?? Number.NaN);
    const known = Number.isInteger(revision);
    const file = known ? `${first.charm}_r${revision}.charm` : `${first.charm}.charm`;
    const path = join(options.dir, file);
    await rename(partial, path);
    const size = (await stat(path)).size;
    const sha256 = await sha256OfFile(path);
    let scan: CharmScan;
    try {
      scan = await scanCharm(path);
    } catch (err: unknown) {
      throw new AirgapError(`${whereOf(group)}: the charm Juju downloaded for ${group.applications.join(', ')} (${first.charm}) cannot be read: ${messageOf(err)}`, { cause: err, hint: 'download it again; if it persists, the charm itself is broken' });
    }
    const downloaded: DownloadedCharm = {
      applications: group.applications, charm: first.charm, channel: first.channel, revision: known ? revision : undefined, base: first.base, file, path, sha256, size, scan,
    };
    options.onDownloaded?.(downloaded);
    return downloaded;
  }, options.signal);
  const downloaded = fulfilledOrThrow(settled, 'charms could not be downloaded', 'check the charm names and channels in the bundle, then re-run');
  // Two channels can hold one revision: the same file, downloaded twice, must be the same bytes.
  const byFile = new Map<string, DownloadedCharm>();
  for (const d of downloaded) {
    const other = byFile.get(d.file);
    if (other !== undefined && other.sha256 !== d.sha256) {
      throw new AirgapError(`${d.file} was downloaded twice with different contents (channels ${other.channel ?? 'default'} and ${d.channel ?? 'default'})`, { hint: 'pin a revision: in the bundle for one of them' });
    }
    byFile.set(d.file, d);
  }
  return downloaded;
}
