/**
 * `POST /runs/cancel` on instance B for runs instance A executes: by id and by status, B asks A
 * through PostgreSQL, and A stops them.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { OpenAiStub } from "../support/openai-stub.js";
import { until } from "../support/until.js";
import { useInstances } from "../support/use-instances.js";

const instances = await useInstances();
const { reachable } = instances;
let stub: OpenAiStub;
beforeAll(() => {
  stub = instances.stub;
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.skipIf(!reachable)("cancelling many runs through another instance", () => {
  it("stops A's runs when B is asked, by id and by status", async () => {
    const a = await instances.start();
    const b = await instances.start();

    stub.holdNextReply();
    stub.holdNextReply();
    const byId = await a.client.threads.create();
    const first = await a.client.runs.create(byId.thread_id, "agent", { input: user("cancelled by id") });
    const queued = await a.client.runs.create(byId.thread_id, "agent", { input: user("queued behind it"), multitaskStrategy: "enqueue" });
    const byStatus = await a.client.threads.create();
    const second = await a.client.runs.create(byStatus.thread_id, "agent", { input: user("cancelled by status") });
    await until(() => stub.requests.length === 2);

    await b.client.runs.cancelMany({ threadId: byId.thread_id, runIds: [first.run_id, queued.run_id] });
    await until(async () => (await a.client.runs.get(byId.thread_id, first.run_id)).status === "interrupted");
    await until(async () => (await a.client.runs.get(byId.thread_id, queued.run_id)).status === "interrupted");
    expect((await a.client.runs.get(byStatus.thread_id, second.run_id)).status).toBe("running");

    await b.client.runs.cancelMany({ status: "running" });
    await until(async () => (await a.client.runs.get(byStatus.thread_id, second.run_id)).status === "interrupted");
    // The queued run never reached the model.
    expect(stub.requests).toHaveLength(2);
  });
});
