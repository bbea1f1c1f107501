/**
 * kill -9 while runs stream, then start again on the same DATA_DIR: finished turns are intact,
 * nothing half-written shows, runs in flight are `error`, no thread is stuck `busy`, and new runs work.
 */
import { expect, it } from "vitest";
import { messageContents as contents, userInput as user } from "../support/fixtures.js";
import { startServerProcess } from "../support/server-process.js";
import { until } from "../support/until.js";
import { useProcessFixture } from "../support/use-process-fixture.js";

const fixture = useProcessFixture();

it("survives kill -9 in the middle of streaming runs", async () => {
  const { stub, dataDir } = fixture;
  const env = fixture.env({ LOG_LEVEL: "info" });
  const first = await startServerProcess(env, dataDir);
  const { client } = first;

  const kept = await client.threads.create({ metadata: { name: "kept" } });
  await client.runs.wait(kept.thread_id, "agent", { input: user("My name is Ada") });
  await client.runs.wait(kept.thread_id, "agent", { input: user("I live in London") });
  // Durability "async" too: a run that writes checkpoints as it goes must be undone as well.
  const stepwise = await client.threads.create();
  const fresh = await client.threads.create();

  stub.reset();
  // The model never answers these three (until the stub is reset, after the kill).
  for (let index = 0; index < 3; index += 1) stub.holdNextReply();
  const streams = [
    { thread: kept.thread_id, durability: "exit" as const },
    { thread: stepwise.thread_id, durability: "async" as const },
    { thread: fresh.thread_id, durability: "exit" as const },
  ].map(({ thread, durability }) =>
    (async () => {
      for await (const _ of client.runs.stream(thread, "agent", { input: user("This turn never finishes"), streamMode: ["values", "messages-tuple"], durability })) {
        // keep reading until the server dies
      }
    })().catch(() => undefined),
  );
  await until(() => stub.requests.length === 3);
  first.child.kill("SIGKILL");
  expect(await first.exited).toBe("SIGKILL");
  await Promise.all(streams);
  stub.reset();

  const second = await startServerProcess(env, dataDir);
  const restarted = second.client;
  expect(second.logs.some((line) => line.msg === "settled runs left unfinished by a previous process" && line.failed === 3)).toBe(true);

  expect(contents((await restarted.threads.getState(kept.thread_id)).values)).toEqual([
    "My name is Ada",
    "Nice to meet you, Ada!",
    "I live in London",
    "You said: I live in London",
  ]);
  expect(contents((await restarted.threads.getState(stepwise.thread_id)).values)).toEqual([]);
  expect(contents((await restarted.threads.getState(fresh.thread_id)).values)).toEqual([]);
  for (const thread of [kept, stepwise, fresh]) {
    expect((await restarted.threads.get(thread.thread_id)).status).toBe("idle");
    const [latest] = await restarted.runs.list(thread.thread_id);
    expect(latest?.status).toBe("error");
  }
  expect((await restarted.runs.list(kept.thread_id)).map((run) => run.status)).toEqual(["error", "success", "success"]);

  const answer = await restarted.runs.wait(kept.thread_id, "agent", { input: user("What is my name?") });
  expect(contents(answer).at(-1)).toBe("Your name is Ada.");
  expect(contents(await restarted.runs.wait(stepwise.thread_id, "agent", { input: user("hello again") }))).toEqual([
    "hello again",
    "You said: hello again",
  ]);
  second.child.kill("SIGTERM");
  expect(await second.exited).toBe(0);
});
