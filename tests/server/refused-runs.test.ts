/**
 * A refused run request leaves nothing behind: no thread, no run record, no model call. That
 * holds for reasons only known when the run is created (an unknown checkpoint, on a thread still
 * to be made), and for a batch whose later item is refused: no item of it starts.
 */
import { describe, expect, it } from "vitest";
import { testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });
const UNKNOWN_CHECKPOINT = "1f000000-0000-6000-8000-000000000000";

describe.each(await testBackends())("refused run requests (%s)", (backend) => {
  const fixture = useStubAndServer(backend);

  const threadIds = async () => (await fixture.server.client.threads.search({ limit: 1000 })).map((thread) => thread.thread_id).sort();

  it("a run with if_not_exists create and an unknown checkpoint creates no thread", async () => {
    const before = await threadIds();
    const threadId = crypto.randomUUID();
    for (const path of [`/threads/${threadId}/runs`, `/threads/${threadId}/runs/wait`, `/threads/${threadId}/runs/stream`]) {
      const response = await fixture.server.request(path, { body: { assistant_id: "agent", input: user("hi"), if_not_exists: "create", checkpoint_id: UNKNOWN_CHECKPOINT } });
      expect(response.status, path).toBe(404);
      expect((response.body as { detail: string }).detail).toBe(`Checkpoint ${UNKNOWN_CHECKPOINT} not found on thread ${threadId}`);
    }
    expect((await fixture.server.request(`/threads/${threadId}`)).status).toBe(404);
    expect(await threadIds()).toEqual(before);
    expect(fixture.stub.requests).toHaveLength(0);
  });

  it("a stateless run with a checkpoint (its new thread has none) leaves no thread", async () => {
    const before = await threadIds();
    for (const on_completion of ["delete", "keep"]) {
      for (const path of ["/runs", "/runs/wait", "/runs/stream"]) {
        const response = await fixture.server.request(path, { body: { assistant_id: "agent", input: user("hi"), on_completion, checkpoint_id: UNKNOWN_CHECKPOINT } });
        expect(response.status, `${path} ${on_completion}`).toBe(404);
      }
    }
    expect(await threadIds()).toEqual(before);
    expect(fixture.stub.requests).toHaveLength(0);
  });

  it("an unknown checkpoint on an existing thread: no run recorded, the thread unchanged", async () => {
    const thread = await fixture.server.client.threads.create();
    const before = await threadIds();
    const response = await fixture.server.request(`/threads/${thread.thread_id}/runs/wait`, { body: { assistant_id: "agent", input: user("hi"), checkpoint_id: UNKNOWN_CHECKPOINT } });
    expect(response.status).toBe(404);
    expect(await fixture.server.client.runs.list(thread.thread_id)).toEqual([]);
    expect((await fixture.server.client.threads.get(thread.thread_id)).status).toBe("idle");
    expect(await threadIds()).toEqual(before);
    expect(fixture.stub.requests).toHaveLength(0);
  });

  it("a batch whose later item is refused at creation starts none of its items", async () => {
    const before = await threadIds();
    const first = { assistant_id: "agent", input: user("first"), on_completion: "keep" };
    for (const refused of [
      { assistant_id: "agent", input: user("second"), checkpoint_id: UNKNOWN_CHECKPOINT },
      { assistant_id: "agent", input: user("second"), on_completion: "keep", checkpoint: { checkpoint_id: UNKNOWN_CHECKPOINT } },
      { assistant_id: "agent", input: user("second"), context: { collection_id: crypto.randomUUID() } },
    ]) {
      const response = await fixture.server.request("/runs/batch", { body: [first, refused] });
      expect(response.status, JSON.stringify(refused)).toBe(404);
    }
    expect(await threadIds()).toEqual(before);
    expect(fixture.stub.requests).toHaveLength(0);
    // The same batch without the refused item runs.
    const response = await fixture.server.request("/runs/batch", { body: [first, { ...first, input: user("second") }] });
    expect(response.status).toBe(200);
    const runs = response.body as Array<{ run_id: string; thread_id: string }>;
    expect(runs).toHaveLength(2);
    for (const run of runs) expect((await fixture.server.client.runs.join(run.thread_id, run.run_id)) as unknown).toMatchObject({ messages: expect.any(Array) });
    expect(fixture.stub.requests).toHaveLength(2);
  });
});
