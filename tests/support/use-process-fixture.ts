import { afterAll, afterEach, beforeAll, beforeEach, vi } from "vitest";
import { makeEnv, makeTempDir, removeDir } from "./fixtures.js";
import { type OpenAiStub, startOpenAiStub } from "./openai-stub.js";
import { PROCESS_TEST_TIMEOUTS, killStartedProcesses } from "./spawn.js";

/**
 * For a file whose tests start processes (`startServerProcess`, `startChat`, `spawnTs`): the
 * process test timeouts, a stub model reset before each test, and a temporary DATA_DIR, one for
 * the file (`dataDir: "file"`, the default: a test may continue what the one before it left) or
 * a fresh one for each test (`"test"`). The processes a test started are killed after it, those
 * of the file's hooks after the file, each before its folder is removed (a process still running
 * could write into it). Call it at the top of the file; read `fixture.stub` and
 * `fixture.dataDir` inside tests and hooks.
 */
export function useProcessFixture(options: { dataDir?: "file" | "test" } = {}) {
  const perTest = options.dataDir === "test";
  vi.setConfig(PROCESS_TEST_TIMEOUTS);
  let stub: OpenAiStub | undefined;
  let dataDir: string | undefined;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    if (!perTest) dataDir = makeTempDir();
  });
  afterAll(async () => {
    await killStartedProcesses();
    await stub?.close();
    if (!perTest && dataDir) removeDir(dataDir);
  });
  beforeEach(() => {
    stub?.reset();
    if (perTest) dataDir = makeTempDir();
  });
  afterEach(async () => {
    // Lets go of replies a test held, so that its processes can end.
    stub?.reset();
    if (!perTest || !dataDir) return;
    await killStartedProcesses("test");
    removeDir(dataDir);
  });
  const fixture = {
    get stub(): OpenAiStub {
      if (!stub) throw new Error("the stub model starts in beforeAll");
      return stub;
    },
    get dataDir(): string {
      if (!dataDir) throw new Error(`the data folder is made in ${perTest ? "beforeEach" : "beforeAll"}`);
      return dataDir;
    },
    /** The environment of a process on the stub with SQLite in the data folder (see `makeEnv`), plus `overrides`. */
    env: (overrides: Record<string, string> = {}) => makeEnv(fixture.stub, fixture.dataDir, overrides),
  };
  return fixture;
}
