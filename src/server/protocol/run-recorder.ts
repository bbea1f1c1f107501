/**
 * Turns what a run's graph streams with `streamEvents(..., { version: "v3" })` into the thread's
 * protocol events: the root lifecycle is this server's (the run's start and how its record
 * ended, which the graph cannot know); interrupts become `input.requested`, once each; state
 * carries the protocol's message dicts.
 */
import type { ProtocolEvent } from "@langchain/langgraph/stream";
import { toWire } from "../wire.js";
import type { RunPublisher } from "./thread-feed.js";
import { type AgentStatus, inputRequests, toProtocolState } from "./thread-event.js";

const isEmptyRecord = (value: unknown) => typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;

/**
 * A tool event with its input as the arguments object the protocol describes: LangChain hands
 * the tool's input over as the JSON text the model wrote.
 */
function toolEvent(data: unknown): unknown {
  const event = data as { event?: string; input?: unknown };
  if (event?.event !== "tool-started" || typeof event.input !== "string") return data;
  try {
    const input: unknown = JSON.parse(event.input);
    return typeof input === "object" && input !== null ? { ...event, input } : data;
  } catch {
    return data;
  }
}

/** Records one run's events on its thread (see the module comment). */
export class ProtocolRecorder {
  readonly #requested = new Set<string>();
  #ended = false;

  constructor(
    private readonly publisher: RunPublisher,
    /** The graph's name in root lifecycle events: the assistant's graph. */
    private readonly graphName: string,
  ) {}

  /** The run began executing. */
  started(): void {
    this.publisher.emit("lifecycle", [], { event: "running", graph_name: this.graphName });
  }

  /** Records one event of the graph's v3 stream. */
  record(event: ProtocolEvent): void {
    const namespace = [...event.params.namespace];
    const { data, node } = event.params;
    const { method } = event;
    switch (method) {
      case "lifecycle":
        // The root's is ours: started() and ended().
        if (namespace.length > 0) this.publisher.emit("lifecycle", namespace, toWire(data));
        return;
      case "values": {
        this.#inputRequested(namespace, inputRequests(data));
        const state = toProtocolState(data);
        if (!isEmptyRecord(state)) this.publisher.emit("values", namespace, state);
        return;
      }
      case "updates": {
        const update = data as { node?: string; values?: unknown };
        if (update.node === "__interrupt__") {
          this.#inputRequested(namespace, inputRequests(update.values));
          return;
        }
        const values = toProtocolState(update.values ?? {});
        this.publisher.emit("updates", namespace, { ...(update.node === undefined ? {} : { node: update.node }), values }, update.node ?? node);
        return;
      }
      case "messages":
        this.publisher.emit(method, namespace, toWire(data), node);
        return;
      case "tools":
        this.publisher.emit(method, namespace, toolEvent(toWire(data)), node);
        return;
      case "checkpoints":
      case "tasks":
        this.publisher.emit(method, namespace, toWire(data));
        return;
      case "custom":
        this.publisher.emit("custom", namespace, toWire(data));
        return;
      default:
        // A graph's own stream channel: the protocol carries it as a named custom event.
        if (method.startsWith("custom:")) this.publisher.emit("custom", namespace, { name: method.slice("custom:".length), payload: toWire(data) });
    }
  }

  /** The run ended: its root lifecycle's last event, once. */
  ended(status: Exclude<AgentStatus, "started" | "running">, error?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.publisher.emit("lifecycle", [], { event: status, graph_name: this.graphName, ...(error === undefined ? {} : { error }) });
  }

  /** Stores what is left of the run's events; resolves once all are stored. */
  close(): Promise<void> {
    return this.publisher.close();
  }

  #inputRequested(namespace: string[], requests: ReturnType<typeof inputRequests>): void {
    for (const request of requests) {
      if (this.#requested.has(request.interrupt_id)) continue;
      this.#requested.add(request.interrupt_id);
      this.publisher.emit("input.requested", namespace, request);
    }
  }

  /** Some interrupt was requested during the run: it paused rather than completed. */
  get paused(): boolean {
    return this.#requested.size > 0;
  }
}
