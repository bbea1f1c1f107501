/**
 * Smaller answers the official client asks for: `select` on a thread's runs (only the fields
 * named, an unknown one a 422) and `Prefer: return=minimal` on `threads.update` (204, no body,
 * the change made all the same).
 */
import type { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

describe.each(await testBackends())("on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;
  let threadId: string;
  let runIds: string[];

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend });
    client = server.client;
    threadId = (await client.threads.create({ metadata: { title: "before" } })).thread_id;
    runIds = [];
    for (const content of ["one", "two"]) {
      const run = await client.runs.create(threadId, "agent", { input: { messages: [{ role: "user", content }] } });
      await client.runs.join(threadId, run.run_id);
      runIds.push(run.run_id);
    }
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });

  it("lists runs with only the fields select names, as the SDK sends select", async () => {
    const runs = await client.runs.list(threadId, { select: ["run_id", "status"] });
    expect(runs).toEqual([
      { run_id: runIds[1], status: "success" },
      { run_id: runIds[0], status: "success" },
    ]);
    expect(await client.runs.list(threadId, { select: ["kwargs"], limit: 1 })).toEqual([{ kwargs: expect.objectContaining({ input: { messages: [{ type: "human", content: "two" }] } }) }]);
    // Without select, every field.
    expect(Object.keys((await client.runs.list(threadId))[0] ?? {})).toEqual(expect.arrayContaining(["run_id", "thread_id", "assistant_id", "status", "metadata", "kwargs", "created_at"]));
  });

  it("is a 422 naming an unknown select field", async () => {
    await expect(client.runs.list(threadId, { select: ["run_id", "password" as never] })).rejects.toMatchObject({ status: 422 });
    const reply = await server.request(`/threads/${threadId}/runs?select=password`);
    expect(reply.status).toBe(422);
    expect((reply.body as { detail: string }).detail).toMatch(/select.*password/);
  });

  it("answers threads.update with returnMinimal with 204 and no body, and still updates", async () => {
    const answer = await client.threads.update(threadId, { metadata: { title: "after" }, returnMinimal: true });
    expect(answer).toBeUndefined();
    const raw = await server.request(`/threads/${threadId}`, { method: "PATCH", body: { metadata: { pinned: true } }, headers: { prefer: "return=minimal" } });
    expect(raw).toMatchObject({ status: 204, body: undefined });
    expect(raw.headers.get("preference-applied")).toBe("return=minimal");
    expect((await client.threads.get(threadId)).metadata).toMatchObject({ title: "after", pinned: true });
    // Without the preference, the thread as before.
    expect((await client.threads.update(threadId, { metadata: { title: "again" } })).metadata).toMatchObject({ title: "again" });
  });
});
