import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // e2e suites start real servers (docker-registry, dockerd): give them room, never a timing assertion.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: run files in parallel but not more than the machine can carry.
    maxWorkers: 2,
    // A worker runs file after file in one process instead of starting afresh for each (about 0.3 s of CPU a
    // file). The files share no state: each has its own temporary directory and servers, stopped in its
    // afterAll, and the library keeps nothing between calls but caches of what it loaded.
    isolate: false,
    // No test reads the machine's /etc/containers/registries.conf: its mirrors would reroute the pulls.
    env: {
      CONTAINERS_REGISTRIES_CONF: fileURLToPath(new URL('./test/fixtures/registries/empty.conf', import.meta.url)),
      // No test writes collect's blob cache into the home directory (runAirgap gives each collect its own).
      XDG_CACHE_HOME: join(tmpdir(), 'airgap-test-xdg-cache'),
    },
    // The JSON report lets .ci/run print one plain "N passed, N failed" line that any CI reader understands.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest/results.json' },
  },
});
