/**
 * What the global setup (`global-setup.ts`) shares with the test files: where this run keeps
 * track of the processes tests start, and the marker those processes carry.
 */
import { fileURLToPath } from "node:url";

/** The repository root, whatever the working directory of the test run. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Set in the environment of every process a test starts (and so of their own children): the
 * global teardown finds leftovers by it.
 */
export const RUN_MARKER = "STATEFUL_AGENT_TEST_RUN";

/** One run of the suite. */
export interface TestRun {
  /** Unique to this run of the suite (two clones tested at once do not mix). */
  id: string;
  /** Where each running child has a file named after its pid. */
  pidDir: string;
  /** The repository's code compiled to JavaScript, laid out as in the repository (see `compile-for-processes.ts`). */
  compiledRoot: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    testRun: TestRun;
  }
}
