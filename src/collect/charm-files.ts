import { createHash } from 'node:crypto';
import { realpath, rm, stat, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { AirgapError, DigestMismatchError, messageOf } from '../errors.ts';
import { AtomicFile } from '../fs/atomic-file.ts';
import { sha256OfFile } from '../fs/sha256-file.ts';
import type { RegistryClient } from '../store/registry/client.ts';
import { describeTlsFailure } from '../store/registry/tls.ts';
import type { Release } from '../release/index.ts';
import { readCharmMetadata } from '../charm/scan.ts';
import { CharmZip } from '../charm/zip.ts';
import type { DownloadedCharm } from './charmhub.ts';
import type { GeneratedFiles } from './plan.ts';

/** A file that goes into charms.tar.gz: where it is on disk and what it is called in the archive. */
export interface PackedFile {
  name: string;
  path: string;
  size: number;
  sha256: string;
  /** What the release named: a local path, an https URL, or the release file itself. */
  source: string;
  charm: string | undefined;
  /** Downloaded into a temporary file that must be removed after packing. */
  temporary: boolean;
  /** A Charmhub charm of a stock bundle: recorded in the lock with how it was downloaded. */
  charmhub?: { applications: string[]; charm: string; channel?: string; revision?: number; base?: string };
}

/** Extra files of a stock bundle's collect: the downloaded charms and the generated release. */
export interface CollectedCharmFiles {
  downloaded: readonly DownloadedCharm[];
  generated: GeneratedFiles | undefined;
  /** Where the generated files are written before packing. */
  workDir: string;
}

async function isInside(file: string, dir: string): Promise<boolean> {
  // Real paths: a symlink beside the release that points at ~/.docker/config.json is outside it.
  const [realFile, realDir] = await Promise.all([realpath(file), realpath(dir)]);
  const rel = relative(realDir, realFile);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/** A file that is going to cross the air gap as a charm must be one: a zip with charm metadata. */
async function checkIsCharm(path: string, where: string, source: string): Promise<void> {
  let zip: CharmZip | undefined;
  try {
    zip = await CharmZip.open(path);
    await readCharmMetadata(zip);
  } catch (err: unknown) {
    const hint = err instanceof AirgapError ? err.hint : undefined;
    throw new AirgapError(`${where}: ${source} is not a charm: ${messageOf(err).replace(/^.*?: not a charm: /, '')}`, {
      cause: err,
      hint: hint ?? 'give the .charm file `charmcraft pack` or `juju download` wrote',
    });
  } finally {
    zip?.close();
  }
}

/** Every local file the release names as a charm (bundle applications, airgap.yaml charms:), resolved. */
export function localCharms(release: Release): { path: string; source: string; where: string }[] {
  const bundleDir = release.bundleFile === undefined ? release.baseDir : resolve(release.bundleFile, '..');
  return [
    ...release.bundleCharms.map((c) => ({ path: isAbsolute(c.charm) ? c.charm : resolve(bundleDir, c.charm), source: c.charm, where: `${c.file}${c.line === undefined ? '' : `:${c.line}`} application ${c.application}` })),
    ...release.charms.filter((c) => !/^https?:\/\//.test(c.charm)).map((c) => ({ path: isAbsolute(c.charm) ? c.charm : resolve(release.baseDir, c.charm), source: c.charm, where: `${c.file}${c.line === undefined ? '' : `:${c.line}`} charm ${c.name}` })),
  ];
}

/**
 * Before anything is pulled or written: every local file the release names as a charm (bundle applications,
 * airgap.yaml charms:) is a .charm zip with charm metadata, and lies inside the release's directory unless
 * `allowOutside`. Anything else would cross the air gap under a charm's name (a credentials file, /etc/passwd).
 */
export async function checkLocalCharms(release: Release, options: { allowOutside: boolean }): Promise<void> {
  for (const c of localCharms(release)) {
    await localFile(c.path, c.source, undefined, c.where);
    if (!c.path.endsWith('.charm')) {
      throw new AirgapError(`${c.where}: ${c.source} is not a .charm file`, { hint: 'name the charm file charmcraft pack or juju download wrote (NAME.charm)' });
    }
    if (!options.allowOutside && !(await isInside(c.path, release.baseDir))) {
      throw new AirgapError(`${c.where}: ${c.source} is outside the release's directory ${release.baseDir}; collect packs only charms from inside it`, {
        hint: `copy the charm into ${release.baseDir}, or pass --allow-outside to pack it from where it is`,
      });
    }
    await checkIsCharm(c.path, c.where, c.source);
  }
}

async function localFile(path: string, source: string, charm: string | undefined, where: string): Promise<PackedFile> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    size = info.size;
  } catch (err: unknown) {
    throw new AirgapError(`${where}: ${source} not found (${path}): ${messageOf(err)}`, {
      cause: err,
      hint: 'put the file beside the release manifest, or fix the path',
    });
  }
  return { name: basename(path), path, size, sha256: await sha256OfFile(path), source, charm, temporary: false };
}

/** Download an https charm into the output directory, verifying its sha256 as it arrives. */
async function downloadCharm(url: string, expectedSha256: string, outputDir: string, client: RegistryClient, charm: string, where: string): Promise<PackedFile> {
  const target = new URL(url);
  if (target.protocol !== 'https:') {
    throw new AirgapError(`${where}: charm ${charm} URL ${url} is not https`, { hint: 'charms are fetched over https only' });
  }
  // Named after the URL as written (not where a redirect led): deploy looks for that name.
  const name = basename(decodeURIComponent(target.pathname)) || `${charm}.charm`;
  const file = new AtomicFile(join(outputDir, `.download-${name}`));
  const hash = createHash('sha256');
  let size = 0;
  let actual = '';
  try {
    const dispatcher = await client.host(target.host).dispatcher();
    let res = await request(target, { method: 'GET', dispatcher });
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 5; hops++) {
      const location = res.headers['location'];
      await res.body.dump();
      if (typeof location !== 'string') break;
      const next = new URL(location, target);
      res = await request(next, { method: 'GET', dispatcher: await client.host(next.host).dispatcher() });
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new AirgapError(`${where}: downloading charm ${charm} from ${url} answered ${res.statusCode}`);
    }
    const out = file.stream();
    await pipeline(res.body, async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    }, out);
    actual = hash.digest('hex');
    const expected = expectedSha256.replace(/^sha256:/, '');
    if (actual !== expected) {
      throw new DigestMismatchError(`${where}: charm ${charm} from ${url} has sha256 ${actual}, the release says ${expected}`, expected, actual, {
        hint: 'the file changed upstream or was tampered with; check the URL and the sha256 in airgap.yaml',
      });
    }
    await file.commit();
  } catch (err: unknown) {
    await file.discard();
    if (err instanceof AirgapError) throw err;
    const tls = describeTlsFailure(err, target.host);
    if (tls !== undefined) throw new AirgapError(`${where}: cannot download charm ${charm} from ${url}: ${tls.message}`, { cause: err, ...(tls.hint === undefined ? {} : { hint: tls.hint }) });
    throw new AirgapError(`${where}: cannot download charm ${charm} from ${url}: ${messageOf(err)}`, { cause: err });
  }
  return { name, path: file.path, size, sha256: actual, source: url, charm, temporary: true };
}

/**
 * Every file of charms.tar.gz: the charm files (the bundle's local charms and airgap.yaml's extra charms),
 * then the release's own files (airgap.yaml, the bundle, the manifests). Flat: two files with one name
 * is an error rather than a silent overwrite on the other side.
 */
export async function gatherCharmFiles(release: Release, outputDir: string, client: RegistryClient, collected?: CollectedCharmFiles): Promise<PackedFile[]> {
  const files: PackedFile[] = [];
  for (const d of collected?.downloaded ?? []) {
    files.push({
      name: d.file, path: d.path, size: d.size, sha256: d.sha256, source: `ch:${d.charm}${d.channel === undefined ? '' : ` --channel ${d.channel}`}`,
      charm: d.applications.join(','), temporary: false,
      charmhub: {
        applications: [...d.applications], charm: d.charm,
        ...(d.channel === undefined ? {} : { channel: d.channel }),
        ...(d.revision === undefined ? {} : { revision: d.revision }),
        ...(d.base === undefined ? {} : { base: d.base }),
      },
    });
  }
  const bundleDir = release.bundleFile === undefined ? release.baseDir : resolve(release.bundleFile, '..');
  for (const c of release.bundleCharms) {
    const path = isAbsolute(c.charm) ? c.charm : resolve(bundleDir, c.charm);
    files.push(await localFile(path, c.charm, c.application, `${c.file}${c.line === undefined ? '' : `:${c.line}`} application ${c.application}`));
  }
  for (const c of release.charms) {
    const where = `${c.file}${c.line === undefined ? '' : `:${c.line}`} charm ${c.name}`;
    if (/^https?:\/\//.test(c.charm)) {
      if (c.sha256 === undefined) throw new AirgapError(`${where}: a charm fetched from a URL needs sha256:`);
      const downloaded = await downloadCharm(c.charm, c.sha256, outputDir, client, c.name, where);
      files.push(downloaded);
      try {
        await checkIsCharm(downloaded.path, where, c.charm);
      } catch (err: unknown) {
        await removeTemporaryFiles(files);
        throw err;
      }
      continue;
    }
    const packed = await localFile(isAbsolute(c.charm) ? c.charm : resolve(release.baseDir, c.charm), c.charm, c.name, where);
    if (c.sha256 !== undefined && c.sha256.replace(/^sha256:/, '') !== packed.sha256) {
      throw new DigestMismatchError(`${where}: ${c.charm} has sha256 ${packed.sha256}, the release says ${c.sha256}`, c.sha256, packed.sha256, {
        hint: 'use the charm file the release was made with, or update sha256 in airgap.yaml',
      });
    }
    files.push(packed);
  }
  const generated = collected?.generated;
  for (const path of release.files) {
    // The generated airgap.yaml stands for the one given: the offline side deploys the generated bundle.
    if (generated !== undefined && release.kind === 'airgap' && path === release.file) continue;
    files.push(await localFile(path, path, undefined, 'release'));
  }
  if (generated !== undefined && collected !== undefined) {
    for (const g of [generated.bundle, generated.manifest]) {
      const path = join(collected.workDir, g.name);
      await writeFile(path, g.text);
      files.push(await localFile(path, `generated ${g.name}`, undefined, 'release'));
    }
  }

  const byName = new Map<string, PackedFile>();
  const unique: PackedFile[] = [];
  for (const f of files) {
    const other = byName.get(f.name);
    if (other === undefined) {
      byName.set(f.name, f);
      unique.push(f);
    } else if (other.path !== f.path) {
      throw new AirgapError(`two files named ${f.name} would go into charms.tar.gz: ${other.path} and ${f.path}`, {
        hint: 'charms.tar.gz is flat: rename one of them',
      });
    }
  }
  return unique;
}

export async function removeTemporaryFiles(files: readonly PackedFile[]): Promise<void> {
  await Promise.all(files.filter((f) => f.temporary).map((f) => rm(f.path, { force: true })));
}
