/** How runs end when they do not finish: a delay has a documented maximum. On SQLite and PostgreSQL. */
import type { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_AFTER_SECONDS } from "../../src/server/schemas.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.each(await testBackends())("runs that do not finish (%s)", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend });
    client = server.client;
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });
  beforeEach(() => stub.reset());

  describe("after_seconds", () => {
    it(`refuses a delay beyond ${MAX_AFTER_SECONDS} seconds with a 422, creating nothing`, async () => {
      const thread = await client.threads.create();
      const before = await client.threads.count();
      for (const after_seconds of [MAX_AFTER_SECONDS + 1, 1e7]) {
        const body = { assistant_id: "agent", input: user("much later"), after_seconds };
        for (const path of [`/threads/${thread.thread_id}/runs`, `/threads/${thread.thread_id}/runs/wait`, "/runs", "/runs/stream"]) {
          const response = await server.request(path, { body });
          expect(response.status, path).toBe(422);
          expect((response.body as { detail: string }).detail).toContain(`after_seconds: must be at most ${MAX_AFTER_SECONDS}`);
        }
        expect((await server.request("/runs/batch", { body: [{ ...body, after_seconds: 1 }, body] })).status).toBe(422);
      }
      expect(await client.runs.list(thread.thread_id)).toEqual([]);
      expect(await client.threads.count()).toBe(before);
      expect(stub.requests).toHaveLength(0);
    });

    it("still delays a run within the maximum: cancelled while it waits, it never runs", async () => {
      const thread = await client.threads.create();
      const run = await client.runs.create(thread.thread_id, "agent", { input: user("in an hour"), afterSeconds: 3600 });
      expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("pending");
      await client.runs.cancel(thread.thread_id, run.run_id, true, "interrupt");
      expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("interrupted");
      expect(stub.requests).toHaveLength(0);
    });
  });
});
