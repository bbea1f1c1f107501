/** SIGTERM: stop accepting, let running runs finish within the grace period, cancel the rest, close. */
import { expect, it } from "vitest";
import { messageContents as contents, userInput as user } from "../support/fixtures.js";
import { until } from "../support/until.js";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";
import { useProcessFixture } from "../support/use-process-fixture.js";

const fixture = useProcessFixture({ dataDir: "test" });

const start = (grace: string): Promise<ServerProcess> => startServerProcess(fixture.env({ SHUTDOWN_GRACE_MS: grace }), fixture.dataDir);

it("lets a running run finish within the grace period, refusing new connections meanwhile", async () => {
  const { stub } = fixture;
  // A grace period longer than anything here waits: the run finishes within it however slow the machine.
  const server = await start("200000");
  const thread = await server.client.threads.create();
  // The model answers when the test says so: no race with the clock.
  const release = stub.holdNextReply();
  const run = await server.client.runs.create(thread.thread_id, "agent", { input: user("finish me") });
  await until(() => stub.requests.length === 1);
  server.child.kill("SIGTERM");
  await server.waitForLog((line) => line.msg === "shutting down");
  await expect(fetch(`${server.baseUrl}/ok`)).rejects.toThrow();
  // Still running, not cancelled: the model answers now, and only then does the server exit.
  expect(server.child.exitCode).toBeNull();
  release();
  expect(await server.exited).toBe(0);

  stub.reset();
  const again = await start("5000");
  expect((await again.client.runs.get(thread.thread_id, run.run_id)).status).toBe("success");
  expect(contents((await again.client.threads.getState(thread.thread_id)).values)).toEqual(["finish me", "You said: finish me"]);
  expect((await again.client.threads.get(thread.thread_id)).status).toBe("idle");
});

it("cancels what is still running after the grace period, keeping the user's message, and exits cleanly", async () => {
  const { stub } = fixture;
  const server = await start("300");
  const thread = await server.client.threads.create();
  const release = stub.holdNextReply();
  const run = await server.client.runs.create(thread.thread_id, "agent", { input: user("too slow") });
  await until(() => stub.requests.length === 1);
  server.child.kill("SIGTERM");
  // The model holds its answer until the test lets it go, which is only after this: the server
  // stopped without waiting for it.
  expect(await server.exited).toBe(0);
  release();
  expect(server.logs.some((line) => line.msg === "cancelled runs still going after the grace period" && line.cancelled === 1)).toBe(true);

  stub.reset();
  const again = await start("300");
  expect((await again.client.runs.get(thread.thread_id, run.run_id)).status).toBe("interrupted");
  expect(contents((await again.client.threads.getState(thread.thread_id)).values)).toEqual(["too slow"]);
  expect((await again.client.threads.get(thread.thread_id)).status).toBe("idle");
  expect(contents(await again.client.runs.wait(thread.thread_id, "agent", { input: user("and now?") }))).toEqual(["too slow", "and now?", "You said: and now?"]);
});
