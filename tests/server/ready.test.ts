/**
 * `/ok` and `/ready` as a load balancer sees them, with the server built as `main.ts` builds it
 * (createHttpServer, createServerDeps, shutDown): the process answers `/ok` from the moment it
 * listens; `/ready` answers 503 while storage is set up (and so does the API), 200 once the app
 * serves, and 503 again as soon as shutting down begins, while running runs finish.
 */
import { once } from "node:events";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createAgentFromConfig } from "../../src/composition/agent-from-config.js";
import { type AppDeps, createApp, createServerDeps } from "../../src/server/create-app.js";
import { createHttpServer } from "../../src/server/http-server.js";
import { Readiness } from "../../src/server/readiness.js";
import { shutDown } from "../../src/server/shutdown.js";
import { makeConfig, makeTempDir, removeDir, userInput as user } from "../support/fixtures.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { until } from "../support/until.js";

let stub: OpenAiStub;
let dataDir: string;
const servers: Server[] = [];
beforeAll(async () => {
  stub = await startOpenAiStub();
  dataDir = makeTempDir();
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await stub.close();
  removeDir(dataDir);
});

const listen = async (server: Server): Promise<string> => {
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const get = async (baseUrl: string, path: string) => {
  const response = await fetch(`${baseUrl}${path}`);
  return { status: response.status, body: (await response.json()) as unknown };
};

it("is live at once, ready once storage is set up, and not ready again from the start of a shutdown", async () => {
  const logger = pino({ level: "silent" });
  const { agent, storage, documents } = createAgentFromConfig(makeConfig(stub, dataDir), { logger });
  // Storage is set up when the test says so: the window before it is seen without a race.
  let finishSetup!: () => void;
  const setupMayFinish = new Promise<void>((resolve) => (finishSetup = resolve));
  const setup = storage.setup.bind(storage);
  storage.setup = async () => {
    await setupMayFinish;
    await setup();
  };

  const readiness = new Readiness();
  const http = createHttpServer(readiness);
  const baseUrl = await listen(http.server);
  const starting = createServerDeps({ agent, storage, documents, logger, readiness });

  expect(await get(baseUrl, "/ok")).toEqual({ status: 200, body: { ok: true } });
  expect(await get(baseUrl, "/ready")).toEqual({ status: 503, body: { detail: expect.stringMatching(/starting/) } });
  const search = await fetch(`${baseUrl}/threads/search`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  expect(search.status).toBe(503);
  expect(await search.json()).toEqual({ detail: expect.stringMatching(/starting/) });

  finishSetup();
  const deps: AppDeps = await starting;
  const app = createApp(deps);
  http.serve(app);
  expect(await get(baseUrl, "/ready")).toEqual({ status: 200, body: { ok: true } });
  expect((await fetch(`${baseUrl}/threads/search`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(200);

  // A run the model holds keeps the shutdown in its grace period, where /ready is watched
  // through a second listener on the same app (the first one stops accepting at once).
  const probe = await listen(createServer(app));
  const thread = (await (await fetch(`${baseUrl}/threads`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).json()) as { thread_id: string };
  const release = stub.holdNextReply();
  const created = await fetch(`${baseUrl}/threads/${thread.thread_id}/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ assistant_id: "agent", input: user("hold on") }) });
  expect(created.status).toBe(200);
  const { run_id: runId } = (await created.json()) as { run_id: string };
  await until(() => stub.requests.length === 1);

  const stopped = shutDown(http.server, deps, { graceMs: 600_000, logger });
  expect(await get(probe, "/ready")).toEqual({ status: 503, body: { detail: expect.stringMatching(/shutting down/) } });
  expect(await get(probe, "/ok")).toEqual({ status: 200, body: { ok: true } });
  release();
  await stopped;
  // The run was let finish, not cancelled.
  expect((await deps.runs.handle(runId)!.done).status).toBe("success");
  expect(readiness.state).toBe("stopping");
});
