import { readFileSync } from 'node:fs';

/**
 * Set at build time in the single executable (scripts/package.ts, esbuild `define`): it has no package.json
 * beside it, and it should say which commit it was built from.
 */
declare const AIRGAP_BUILD: { version: string; commit: string } | undefined;

// Read once at start-up: the version shown is the package's, whether run from src/ or dist/.
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const build = typeof AIRGAP_BUILD === 'undefined' ? undefined : AIRGAP_BUILD;
export const VERSION = build?.version ?? packageVersion();
/** The git commit the executable was built from; undefined when run from the source tree. */
export const COMMIT = build?.commit;
/** What `--version` prints. */
export const VERSION_TEXT = COMMIT === undefined ? VERSION : `${VERSION} (commit ${COMMIT})`;
export const TOOL_NAME = `airgap ${VERSION_TEXT}`;
