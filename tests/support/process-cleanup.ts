/**
 * Setup file of every test file: a process a test started dies after that test, one a file's
 * `beforeAll` started dies after that file, even when the test failed or timed out. These hooks
 * are registered before the file's own, so they run first before and last after a test.
 */
import { afterAll, afterEach, beforeEach } from "vitest";
import { enterScope, killStartedProcesses } from "./spawn.js";

beforeEach(() => enterScope("test"));
afterEach(async () => {
  await killStartedProcesses("test");
  enterScope("file");
});
afterAll(() => killStartedProcesses("all"));
