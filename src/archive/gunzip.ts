import { createGunzip, type Gunzip, type ZlibOptions } from 'node:zlib';

// zlib's streams hand out their output in 16 KiB buffers by default: 13,000 of them for 200 MB, each a new
// allocation that every stage after it (tar parser, hash, upload) handles on its own. In 64 KiB buffers,
// about one stored deflate block of our archives each, `airgap load` of the 200 MB bench release went from
// 2.3 s to 1.7 s (user CPU 1.9 s to 1.4 s), most of it garbage collection saved.
const OUTPUT_CHUNK = 64 * 1024;

/** A gunzip stream for reading our archives (or anyone's .tar.gz). */
export function createArchiveGunzip(options: Omit<ZlibOptions, 'chunkSize'> = {}): Gunzip {
  return createGunzip({ ...options, chunkSize: OUTPUT_CHUNK });
}
