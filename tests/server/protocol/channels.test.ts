/**
 * The protocol's channels beyond messages and values, as a run fills them: `tools` (a tool the
 * model calls, started and finished), `tasks` and `updates` (each node, named), and `custom`
 * (what a graph writes with `config.writer`, named or not), with filters on namespaces.
 */
import { END, type LangGraphRunnableConfig, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { AIMessage } from "@langchain/core/messages";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Agent } from "../../../src/graph/agent.js";
import type { Storage } from "../../../src/storage/storage.js";
import { extractionAnswer, isExtractionRequest } from "../../support/openai-stub.js";
import { ALL_CHANNELS, type WireEvent, readEventStream, readRun, sendCommand } from "../../support/protocol-client.js";
import { testBackends } from "../../support/server.js";
import { useStubAndServer } from "../../support/use-server.js";

const userInput = (content: string) => ({ messages: [{ role: "user", content }] });
type Event = WireEvent & { params: { data: any } };

/** Starts a run on a new thread and reads all its events to its end. */
async function turn(baseUrl: string, input: unknown, channels = ALL_CHANNELS): Promise<Event[]> {
  const threadId = randomUUID();
  const started = await sendCommand(baseUrl, threadId, { id: 1, method: "run.start", params: { assistant_id: "agent", input } });
  expect(started.body.type).toBe("success");
  return (await readRun(baseUrl, threadId, { channels })) as Event[];
}

/** A graph that reports its progress on the custom channel while it works. */
function reportingGraph(storage: Storage): Agent {
  return new StateGraph(MessagesAnnotation)
    .addNode("work", async (_state, config: LangGraphRunnableConfig) => {
      config.writer?.({ progress: 0.5 });
      config.writer?.({ name: "status", payload: "halfway" });
      return { messages: [new AIMessage("done")] };
    })
    .addEdge(START, "work")
    .addEdge("work", END)
    .compile({ checkpointer: storage.checkpointer }) as unknown as Agent;
}

describe.each(await testBackends())("protocol channels on %s", (backend) => {
  describe("a tool the model calls", () => {
    const fixture = useStubAndServer(backend, { env: { LONG_TERM_MEMORY: "on" } });

    it("comes on tools as started then finished, with its input and output; each node on tasks and updates", async () => {
      fixture.stub.respondWith((request) => {
        if (isExtractionRequest(request)) return extractionAnswer(request);
        // First the model saves a memory; once the tool answered, it replies.
        if (!request.messages.some((message) => message.role === "tool")) return { tool_calls: [{ id: "call-1", name: "save_memory", arguments: { key: "diet", text: "The user is vegetarian." } }] };
        return "Noted: vegetarian.";
      });
      const events = await turn(fixture.server.baseUrl, userInput("Remember that I am vegetarian"));
      const tools = events.filter((event) => event.method === "tools");
      expect(tools.map((event) => event.params.data.event)).toEqual(["tool-started", "tool-finished"]);
      expect(tools[0]!.params.data).toMatchObject({ tool_call_id: "call-1", tool_name: "save_memory", input: { key: "diet", text: "The user is vegetarian." } });
      expect(JSON.stringify(tools[1]!.params.data.output)).toContain("Saved under");
      // The model's call came through messages as a tool call block first.
      const blocks = events.filter((event) => event.method === "messages" && event.params.data.event === "content-block-finish").map((event) => event.params.data.content.type);
      expect(blocks).toContain("tool_call");
      const nodes = events.filter((event) => event.method === "updates" && event.params.namespace.length === 0).map((event) => event.params.node);
      expect(nodes).toEqual(expect.arrayContaining(["trim", "model", "tools"]));
      for (const update of events.filter((event) => event.method === "updates")) expect(update.params.data.node).toBe(update.params.node);
      const tasks = events.filter((event) => event.method === "tasks" && event.params.namespace.length === 0);
      expect(tasks.filter((task) => "result" in task.params.data).map((task) => task.params.data.name)).toEqual(expect.arrayContaining(["trim", "model", "tools"]));
      expect(events.filter((event) => event.method === "values").at(-1)!.params.data.messages.at(-1).content).toBe("Noted: vegetarian.");
    });

    it("filters by namespace and depth: the root only, or the model's namespace by its name", async () => {
      fixture.stub.respondWith((request) => (isExtractionRequest(request) ? extractionAnswer(request) : "plain answer"));
      const rootOnly = await turn(fixture.server.baseUrl, userInput("hi"), ["lifecycle", "messages"]);
      const modelNamespaces = rootOnly.filter((event) => event.params.namespace.length > 0);
      expect(modelNamespaces.length).toBeGreaterThan(0);
      expect(modelNamespaces.every((event) => event.params.namespace[0]!.startsWith("model:"))).toBe(true);

      const threadId = randomUUID();
      await sendCommand(fixture.server.baseUrl, threadId, { id: 1, method: "run.start", params: { assistant_id: "agent", input: userInput("hi") } });
      const atRoot = (await readRun(fixture.server.baseUrl, threadId, { channels: ["lifecycle", "messages"], namespaces: [[]], depth: 0 })) as Event[];
      expect(atRoot.every((event) => event.params.namespace.length === 0)).toBe(true);
      expect(atRoot.some((event) => event.method === "messages")).toBe(false);
      // A segment without its task id matches any task of that node: the model's tokens, nothing of the root.
      const underModel = (await readEventStream(fixture.server.baseUrl, threadId, { channels: ALL_CHANNELS, namespaces: [["model"]], since: 0 }, (events) =>
        events.some((event) => event.method === "messages" && (event.params.data as { event: string }).event === "message-finish"),
      )) as Event[];
      expect(underModel.length).toBeGreaterThan(0);
      expect(underModel.every((event) => event.params.namespace[0]!.startsWith("model:"))).toBe(true);
      expect(underModel.some((event) => event.method === "messages")).toBe(true);
    });
  });

  describe("a graph that writes on the custom channel", () => {
    const fixture = useStubAndServer(backend, { agent: reportingGraph });

    it("passes what it writes, unnamed as a payload and named as custom:<name>", async () => {
      const events = await turn(fixture.server.baseUrl, userInput("go"));
      const custom = events.filter((event) => event.method === "custom");
      expect(custom.map((event) => event.params.data)).toEqual([{ payload: { progress: 0.5 } }, { name: "status", payload: "halfway" }]);
      const threadId = randomUUID();
      await sendCommand(fixture.server.baseUrl, threadId, { id: 1, method: "run.start", params: { assistant_id: "agent", input: userInput("go") } });
      // A filter on one named channel gets that one only (and the run's end, for reading to it).
      const named = (await readRun(fixture.server.baseUrl, threadId, { channels: ["custom:status", "lifecycle"] })) as Event[];
      expect(named.filter((event) => event.method === "custom").map((event) => event.params.data)).toEqual([{ name: "status", payload: "halfway" }]);
    });
  });
});
