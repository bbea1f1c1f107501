/**
 * Two servers on one DATA_DIR (SQLite): the second would take the first for dead and undo its
 * runs, so it refuses to start, naming the folder; the first keeps serving, its runs untouched.
 */
import { expect, it } from "vitest";
import { messageContents as contents, userInput as user } from "../support/fixtures.js";
import { startServerProcess } from "../support/server-process.js";
import { until } from "../support/until.js";
import { useProcessFixture } from "../support/use-process-fixture.js";

const fixture = useProcessFixture();

it("refuses a second server on the same DATA_DIR while the first runs, and leaves the first's runs alone", async () => {
  // Beats far apart: on a busy machine the first must not look silent while the second starts.
  const { stub, dataDir } = fixture;
  const env = fixture.env({ INSTANCE_HEARTBEAT_MS: "5000" });
  const first = await startServerProcess(env, dataDir);
  const thread = await first.client.threads.create();
  await first.client.runs.wait(thread.thread_id, "agent", { input: user("My name is Ada") });
  stub.reset();
  const answer = stub.holdNextReply();
  const run = await first.client.runs.create(thread.thread_id, "agent", { input: user("Still mine"), durability: "async" });
  await until(() => stub.requests.length === 1);

  const refused = await startServerProcess(env, dataDir).then(
    (second) => second,
    (error: unknown) => error as Error,
  );
  expect(refused).toBeInstanceOf(Error);
  expect((refused as Error).message).toContain("(it exited: 1)");
  expect((refused as Error).message).toMatch(
    new RegExp(`Another server is using the database in ${dataDir} \\(instance [0-9a-f-]{36}, pid ${first.child.pid}\\); stop it or use another DATA_DIR`),
  );

  // The first server's run goes on as if nothing happened.
  expect((await first.client.runs.get(thread.thread_id, run.run_id)).status).toBe("running");
  answer();
  expect(contents(await first.client.runs.join(thread.thread_id, run.run_id))).toEqual(["My name is Ada", "Nice to meet you, Ada!", "Still mine", "You said: Still mine"]);
  expect((await first.client.runs.list(thread.thread_id)).map((listed) => listed.status)).toEqual(["success", "success"]);

  // Once the first has stopped, the folder is free again.
  first.child.kill("SIGTERM");
  expect(await first.exited).toBe(0);
  const next = await startServerProcess(env, dataDir);
  expect(contents((await next.client.threads.getState(thread.thread_id)).values)).toHaveLength(4);
  next.child.kill("SIGTERM");
  expect(await next.exited).toBe(0);
});
