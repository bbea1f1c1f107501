import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { makeEnv, makeTempDir, removeDir } from "../support/fixtures.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { PROCESS_TEST_TIMEOUTS, finished, spawnTs } from "../support/spawn.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

let stub: OpenAiStub;
let dataDir: string;

beforeAll(async () => {
  stub = await startOpenAiStub();
  dataDir = makeTempDir();
});
afterAll(async () => {
  await stub.close();
  removeDir(dataDir);
});

it("continues a thread in a new process on the same SQLite file", async () => {
  const env = makeEnv(stub, dataDir);
  const turn = async (thread: string, text: string) => {
    const { code, stdout, stderr } = await finished(spawnTs("tests/support/run-turn.ts", env, dataDir, [thread, text]));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    return JSON.parse(stdout) as { reply: string; messages: number };
  };
  expect(await turn("persisted", "Hello, my name is Hedy")).toEqual({ reply: "Nice to meet you, Hedy!", messages: 2 });
  expect(await turn("persisted", "What is my name?")).toEqual({ reply: "Your name is Hedy.", messages: 4 });
  expect(await turn("someone-else", "What is my name?")).toEqual({ reply: "I don't know your name.", messages: 2 });
});
