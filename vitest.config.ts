import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Bounds for when something hangs, generous for a busy machine; files that start processes
    // raise them further (PROCESS_TEST_TIMEOUTS in tests/support/spawn.ts).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // expect.poll gives up after 1 s by default: far too soon when the machine is busy.
    expect: { poll: { timeout: 60_000 } },
    // Tests start servers and child processes; two cores, so keep the workers modest.
    maxWorkers: 2,
    // Test files run one after another in each worker and share its modules: importing LangChain
    // and the app once per worker instead of once per file saves a quarter of the suite's CPU.
    // Files therefore leave no global state behind (vi.stubEnv, not process.env; servers closed).
    isolate: false,
    // A folder per run for temporary files and running processes; the run fails if a test's process outlives it.
    globalSetup: ["tests/support/global-setup.ts"],
    setupFiles: ["tests/support/process-cleanup.ts"],
  },
});
