/**
 * Turns LangGraph's stream chunks into the LangGraph API's SSE events for the stream modes a
 * client asked for, and keeps them in an in-memory log that any number of readers can follow
 * (the creator, `join`, `joinStream`), each from the start or after a `Last-Event-ID`.
 */
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { StreamMode as GraphStreamMode } from "@langchain/langgraph";
import type { StreamMode } from "./schemas.js";
import type { SseEvent } from "./sse.js";
import { checkpointOf, toWire } from "./wire.js";

/** One event of a run, numbered from 0 in the order it happened; `data` is wire JSON. */
export interface RunEvent {
  id: string;
  event: SseEvent;
  data: unknown;
}

/** An event as logged: its raw data, converted to wire JSON on first read. */
class LoggedEvent implements RunEvent {
  #raw: unknown;
  #wire: unknown;
  #converted = false;

  constructor(
    readonly id: string,
    readonly event: SseEvent,
    raw: unknown,
  ) {
    this.#raw = raw;
  }

  get data(): unknown {
    if (!this.#converted) {
      this.#wire = toWire(this.#raw);
      this.#converted = true;
      this.#raw = undefined;
    }
    return this.#wire;
  }

  /** The data as LangGraph produced it, for the run's own bookkeeping. */
  get raw(): unknown {
    return this.#converted ? this.#wire : this.#raw;
  }
}

/** LangGraph stream modes needed to produce the API modes `requested`. */
export function graphModesFor(requested: readonly StreamMode[]): GraphStreamMode[] {
  const modes = new Set<GraphStreamMode>();
  for (const mode of requested) {
    if (mode === "messages-tuple") modes.add("messages");
    else if (mode === "messages") {
      // Legacy "messages": partial messages from tokens, complete ones from the state's values.
      modes.add("messages");
      modes.add("values");
    } else if (mode !== "events") modes.add(mode);
  }
  // "events" alone still needs the graph to run in some mode; values is the cheapest useful one.
  if (modes.size === 0) modes.add("values");
  return [...modes];
}

/** A config as the API shows it: no callbacks, signals or LangGraph-internal `__` keys. */
function publicConfig(config: RunnableConfig | undefined) {
  if (!config) return null;
  const configurable = Object.fromEntries(Object.entries(config.configurable ?? {}).filter(([key]) => !key.startsWith("__")));
  return { tags: config.tags ?? [], metadata: toWire(config.metadata ?? {}), recursion_limit: config.recursionLimit ?? null, configurable };
}

/** A debug/checkpoints snapshot with snake_case parent config and checkpoint references, as the official server sends it. */
function checkpointPayload(payload: { config?: RunnableConfig; parentConfig?: RunnableConfig } & Record<string, unknown>) {
  const { config, parentConfig, ...rest } = payload;
  return {
    ...(toWire(rest) as Record<string, unknown>),
    config: publicConfig(config),
    parent_config: publicConfig(parentConfig),
    checkpoint: checkpointOf(config),
    parent_checkpoint: checkpointOf(parentConfig),
  };
}

/**
 * Translates LangGraph chunks of one run into API events. Data stays as LangGraph produced it
 * (messages as objects); the log converts it to wire JSON only when someone reads it, which for
 * `runs.wait` is never.
 */
export class StreamTranslator {
  readonly #requested: ReadonlySet<StreamMode>;
  readonly #partial = new Map<string, AIMessageChunk>();
  readonly #completed = new Set<string>();

  constructor(requested: readonly StreamMode[]) {
    this.#requested = new Set(requested);
  }

  /** The events one `[mode, payload]` chunk of `graph.stream` becomes (often none or one). */
  translate(mode: GraphStreamMode, payload: unknown): Array<[SseEvent, unknown]> {
    const events: Array<[SseEvent, unknown]> = [];
    switch (mode) {
      case "messages": {
        const [chunk, metadata] = payload as [AIMessageChunk, Record<string, unknown>];
        if (this.#requested.has("messages-tuple")) events.push(["messages", [chunk, metadata]]);
        if (this.#requested.has("messages") && chunk.id) {
          const previous = this.#partial.get(chunk.id);
          if (!previous) events.push(["messages/metadata", { [chunk.id]: { metadata } }]);
          const accumulated = previous ? previous.concat(chunk) : chunk;
          this.#partial.set(chunk.id, accumulated);
          events.push(["messages/partial", [accumulated]]);
        }
        break;
      }
      case "values": {
        if (this.#requested.has("values")) events.push(["values", payload]);
        if (this.#requested.has("messages")) {
          const complete = this.#newCompleteMessages((payload as { messages?: BaseMessage[] }).messages ?? []);
          if (complete.length > 0) events.push(["messages/complete", complete]);
        }
        break;
      }
      case "checkpoints":
        if (this.#requested.has("checkpoints")) events.push(["checkpoints", checkpointPayload(payload as Record<string, unknown>)]);
        break;
      case "debug": {
        if (!this.#requested.has("debug")) break;
        const chunk = payload as { type: string; payload: Record<string, unknown> };
        events.push(["debug", chunk.type === "checkpoint" ? { ...chunk, payload: checkpointPayload(chunk.payload) } : chunk]);
        break;
      }
      default:
        if (this.#requested.has(mode as StreamMode)) events.push([mode as SseEvent, payload]);
    }
    return events;
  }

  #newCompleteMessages(messages: readonly BaseMessage[]): BaseMessage[] {
    const complete: BaseMessage[] = [];
    for (const message of messages) {
      if (!message.id || this.#completed.has(message.id)) continue;
      this.#completed.add(message.id);
      complete.push(message);
    }
    return complete;
  }
}

/** An append-only event log with followers; finished when the run ends. */
export class RunEventLog {
  readonly #events: LoggedEvent[] = [];
  #finished = false;
  #wakeUps = new Set<() => void>();
  #listener: ((event: RunEvent) => void) | undefined;

  /** Calls `listener` with every event pushed from now on (one listener: the relay to other instances). */
  onEvent(listener: (event: RunEvent) => void): void {
    this.#listener = listener;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Appends an event; `data` may hold LangChain objects, converted when first read. */
  push(event: SseEvent, data: unknown): void {
    const logged = new LoggedEvent(String(this.#events.length), event, data);
    this.#events.push(logged);
    this.#listener?.(logged);
    this.#wake();
  }

  finish(): void {
    this.#finished = true;
    this.#wake();
  }

  /** The raw data of the newest event of a kind, if any. */
  lastRaw(event: SseEvent): unknown {
    return this.#events.findLast((candidate) => candidate.event === event)?.raw;
  }

  #wake(): void {
    const wakeUps = this.#wakeUps;
    this.#wakeUps = new Set();
    for (const wakeUp of wakeUps) wakeUp();
  }

  /** Yields every event after `lastEventId` (all when undefined), then live ones, until the run ends or `signal` fires. */
  async *follow(lastEventId?: string, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    const parsed = lastEventId === undefined ? -1 : Number.parseInt(lastEventId, 10);
    let index = Number.isNaN(parsed) ? 0 : parsed + 1;
    while (!signal?.aborted) {
      while (index < this.#events.length) {
        yield this.#events[index] as RunEvent;
        index += 1;
        if (signal?.aborted) return;
      }
      if (this.#finished) return;
      await new Promise<void>((resolve) => {
        const onAbort = () => {
          this.#wakeUps.delete(wake);
          resolve();
        };
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        this.#wakeUps.add(wake);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }
}
