/** SIGTERM: stop accepting, let running runs finish within the grace period, cancel the rest, close. */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { makeEnv, makeTempDir, removeDir } from "../support/fixtures.js";
import { until } from "../support/until.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";

let stub: OpenAiStub;
let dataDir: string;
let servers: ServerProcess[] = [];
beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(() => stub.close());
beforeEach(() => {
  stub.reset();
  dataDir = makeTempDir();
});
afterEach(() => {
  for (const server of servers) server.child.kill("SIGKILL");
  servers = [];
  removeDir(dataDir);
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });
const contents = (values: unknown) => ((values as { messages?: Array<{ content: string }> }).messages ?? []).map((message) => message.content);

async function start(grace: string) {
  const server = await startServerProcess(makeEnv(stub, dataDir, { SHUTDOWN_GRACE_MS: grace }), dataDir);
  servers.push(server);
  return server;
}

it("lets a running run finish within the grace period, refusing new connections meanwhile", async () => {
  const server = await start("5000");
  const thread = await server.client.threads.create();
  stub.delayEveryReply(800);
  const run = await server.client.runs.create(thread.thread_id, "agent", { input: user("finish me") });
  await until(() => stub.requests.length === 1);
  server.child.kill("SIGTERM");
  await until(() => server.logs.some((line) => line.msg === "shutting down"));
  await expect(fetch(`${server.baseUrl}/ok`)).rejects.toThrow();
  expect(await server.exited).toBe(0);

  stub.reset();
  const again = await start("5000");
  expect((await again.client.runs.get(thread.thread_id, run.run_id)).status).toBe("success");
  expect(contents((await again.client.threads.getState(thread.thread_id)).values)).toEqual(["finish me", "You said: finish me"]);
  expect((await again.client.threads.get(thread.thread_id)).status).toBe("idle");
});

it("cancels what is still running after the grace period, keeping the user's message, and exits cleanly", async () => {
  const server = await start("300");
  const thread = await server.client.threads.create();
  stub.delayEveryReply(20_000);
  const run = await server.client.runs.create(thread.thread_id, "agent", { input: user("too slow") });
  await until(() => stub.requests.length === 1);
  const stoppedAt = Date.now();
  server.child.kill("SIGTERM");
  expect(await server.exited).toBe(0);
  // Well before the model would have answered.
  expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  expect(server.logs.some((line) => line.msg === "cancelled runs still going after the grace period" && line.cancelled === 1)).toBe(true);

  stub.reset();
  const again = await start("300");
  expect((await again.client.runs.get(thread.thread_id, run.run_id)).status).toBe("interrupted");
  expect(contents((await again.client.threads.getState(thread.thread_id)).values)).toEqual(["too slow"]);
  expect((await again.client.threads.get(thread.thread_id)).status).toBe("idle");
  expect(contents(await again.client.runs.wait(thread.thread_id, "agent", { input: user("and now?") }))).toEqual(["too slow", "and now?", "You said: and now?"]);
});
