import { expect, it } from "vitest";
import { finished, spawnTs } from "../support/spawn.js";
import { useProcessFixture } from "../support/use-process-fixture.js";

const fixture = useProcessFixture();

it("continues a thread in a new process on the same SQLite file", async () => {
  const env = fixture.env();
  const turn = async (thread: string, text: string) => {
    const { code, stdout, stderr } = await finished(spawnTs("tests/support/run-turn.ts", env, fixture.dataDir, [thread, text]));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    return JSON.parse(stdout) as { reply: string; messages: number };
  };
  expect(await turn("persisted", "Hello, my name is Hedy")).toEqual({ reply: "Nice to meet you, Hedy!", messages: 2 });
  expect(await turn("persisted", "What is my name?")).toEqual({ reply: "Your name is Hedy.", messages: 4 });
  expect(await turn("someone-else", "What is my name?")).toEqual({ reply: "I don't know your name.", messages: 2 });
});
