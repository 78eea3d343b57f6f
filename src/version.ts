import { readFileSync } from 'node:fs';

// Read once at start-up: the version shown is the package's, whether run from src/ or dist/.
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const VERSION = packageVersion();
export const TOOL_NAME = `airgap ${VERSION}`;
