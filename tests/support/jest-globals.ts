/**
 * LangGraph's checkpointer conformance suite is written for Jest-style globals; this gives it
 * vitest's, for the file that imports it only (vitest runs each file in its own context).
 * `describe` may be swapped for `describe.skip` when the backend is unavailable.
 */
import * as vitest from "vitest";

export function installJestGlobals(describe: typeof vitest.describe | typeof vitest.describe.skip = vitest.describe): void {
  Object.assign(globalThis, {
    describe,
    it: vitest.it,
    test: vitest.test,
    expect: vitest.expect,
    beforeAll: vitest.beforeAll,
    afterAll: vitest.afterAll,
    beforeEach: vitest.beforeEach,
    afterEach: vitest.afterEach,
  });
}
