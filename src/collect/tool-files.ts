import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AirgapError } from '../errors.ts';
import { sha256OfFile } from '../fs/sha256-file.ts';
import type { PackedFile } from './charm-files.ts';

/** The platforms `npm run package` builds, by the file-name suffix it gives them. */
export const TOOL_PLATFORMS = { 'linux-x64': 'linux/amd64', 'linux-arm64': 'linux/arm64' } as const;
export type ToolPlatform = keyof typeof TOOL_PLATFORMS;

/** `collect --include-tool`: where the executables are, and which are wanted. */
export interface IncludeToolOptions {
  /** The directory holding airgap-linux-x64 and airgap-linux-arm64 (dist/ in the source tree). */
  dir: string;
  /** This very executable, when the collect runs as one: it stands for its platform whatever its file name. */
  self?: { platform: ToolPlatform; path: string };
  /** Only these; each must exist. Default: every one that exists, at least one. */
  platforms?: readonly ToolPlatform[];
  /** What to tell the user when one is missing. */
  hint: string;
}

export interface ToolFile extends PackedFile {
  /** os/arch, as the lock records it. */
  platform: string;
}

export function toolFileName(platform: ToolPlatform): string {
  return `airgap-${platform}`;
}

export function isToolPlatform(value: string): value is ToolPlatform {
  return Object.hasOwn(TOOL_PLATFORMS, value);
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/** The executables to pack into charms.tar.gz, hashed; a wanted one that is missing fails here, before any image is pulled. */
export async function gatherToolFiles(options: IncludeToolOptions): Promise<ToolFile[]> {
  const wanted = options.platforms !== undefined && options.platforms.length > 0 ? options.platforms : undefined;
  const files: ToolFile[] = [];
  for (const platform of wanted ?? (Object.keys(TOOL_PLATFORMS) as ToolPlatform[])) {
    const name = toolFileName(platform);
    const path = options.self?.platform === platform ? options.self.path : join(options.dir, name);
    const size = await sizeOf(path);
    if (size === undefined) {
      if (wanted === undefined) continue;
      throw new AirgapError(`--include-tool: no airgap executable for ${TOOL_PLATFORMS[platform]}: ${path} does not exist`, { hint: options.hint });
    }
    files.push({ name, path, size, sha256: await sha256OfFile(path), source: path, charm: undefined, temporary: false, platform: TOOL_PLATFORMS[platform] });
  }
  if (files.length === 0) {
    const names = Object.keys(TOOL_PLATFORMS).map((p) => join(options.dir, toolFileName(p as ToolPlatform)));
    throw new AirgapError(`--include-tool: no airgap executable is built (looked for ${names.join(' and ')})`, { hint: options.hint });
  }
  return files;
}
