/**
 * A state write (POST /threads/{id}/state) holds its thread as a run does: a run that arrives
 * while the write is under way is refused (`reject`) or waits for it (`enqueue`), on this
 * instance and on another one sharing the database, so the thread ends with every message once,
 * in order. The write is held inside `updateState` to make the interleaving certain.
 */
import { describe, expect, it } from "vitest";
import { RunManager } from "../../src/server/run-manager.js";
import { RunCreate } from "../../src/server/schemas.js";
import type { RunRepository } from "../../src/storage/runs.js";
import { testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";
import { until } from "../support/until.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });
const contents = (values: unknown) => ((values as { messages?: Array<{ content: string }> }).messages ?? []).map((message) => message.content);

describe.each(await testBackends())("a state write holds its thread (%s)", (backend) => {
  const fixture = useStubAndServer(backend);

  /** Makes the next state writes wait inside `updateState` until `release` is called. */
  function holdStateWrites() {
    const { agent } = fixture.server.deps;
    const own = Object.getOwnPropertyDescriptor(agent, "updateState");
    const original = agent.updateState.bind(agent);
    let entered = () => undefined as void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    agent.updateState = (async (...args: Parameters<typeof original>) => {
      entered();
      await gate;
      return original(...args);
    }) as typeof agent.updateState;
    const restore = () => {
      if (own) Object.defineProperty(agent, "updateState", own);
      else delete (agent as Partial<typeof agent>).updateState;
    };
    return { inside, release, restore };
  }

  /** A thread with one finished turn. */
  async function threadWithATurn() {
    const thread = await fixture.server.client.threads.create();
    await fixture.server.client.runs.wait(thread.thread_id, "agent", { input: user("first") });
    return thread.thread_id;
  }

  it("a run arriving during the write: reject gets 409, enqueue runs after it; nothing lost or doubled", async () => {
    const threadId = await threadWithATurn();
    const hold = holdStateWrites();
    let write: Promise<{ status: number }>;
    try {
      write = fixture.server.request(`/threads/${threadId}/state`, { body: { values: user("written") } });
      await hold.inside;
      const rejected = await fixture.server.request(`/threads/${threadId}/runs`, { body: { assistant_id: "agent", input: user("rejected"), multitask_strategy: "reject" } });
      expect(rejected.status).toBe(409);
      const queued = await fixture.server.request(`/threads/${threadId}/runs`, { body: { assistant_id: "agent", input: user("queued"), multitask_strategy: "enqueue" } });
      expect(queued.status).toBe(200);
      hold.release();
      expect((await write).status).toBe(200);
      await fixture.server.client.runs.join(threadId, (queued.body as { run_id: string }).run_id);
    } finally {
      hold.release();
      hold.restore();
    }
    expect(contents((await fixture.server.client.threads.getState(threadId)).values)).toEqual(["first", "You said: first", "written", "queued", "You said: queued"]);
    expect((await fixture.server.client.runs.list(threadId)).map((run) => run.status)).toEqual(["success", "success"]);
  });

  // Only PostgreSQL is shared by instances: on SQLite one server owns the file.
  if (backend === "postgres") it("a run another instance admits during the write waits for it", async () => {
    const threadId = await threadWithATurn();
    // Another instance on the same database: its own run manager, counting its refused claims.
    // It shares this server's instance id (which heartbeats): a silent id would look dead to the
    // instance monitor, which would close its pending run on a busy machine.
    let refusedClaims = 0;
    const runs = new Proxy(fixture.server.deps.storage.runs, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property === "claimRun") {
          return async (runId: string, thread: string) => {
            const claimed = await target.claimRun(runId, thread);
            if (!claimed) refusedClaims += 1;
            return claimed;
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as RunRepository;
    const { agent, checkpointer, logger, storage } = fixture.server.deps;
    const elsewhere = new RunManager({ agent, checkpointer, storage: { ...storage, runs }, logger, instanceId: fixture.server.deps.monitor?.id });
    const hold = holdStateWrites();
    try {
      const write = fixture.server.request(`/threads/${threadId}/state`, { body: { values: user("written") } });
      await hold.inside;
      const handle = await elsewhere.create(threadId, RunCreate.parse({ assistant_id: "agent", input: user("elsewhere"), multitask_strategy: "enqueue" }));
      let ended = false;
      void handle.done.then(() => (ended = true));
      // Either it ran during the write (the race), or it keeps being told to wait.
      await until(() => ended || refusedClaims >= 3);
      hold.release();
      expect((await write).status).toBe(200);
      expect((await handle.done).status).toBe("success");
    } finally {
      hold.release();
      hold.restore();
      await elsewhere.shutdown(0);
    }
    expect(contents((await fixture.server.client.threads.getState(threadId)).values)).toEqual(["first", "You said: first", "written", "elsewhere", "You said: elsewhere"]);
  });
});
