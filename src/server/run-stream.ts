/**
 * Turns LangGraph's stream chunks into the LangGraph API's SSE events for the stream modes a
 * client asked for, and keeps them in an in-memory log that any number of readers can follow
 * (the creator, `join`, `joinStream`), each from the start or after a `Last-Event-ID`.
 */
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import type { StreamMode as GraphStreamMode } from "@langchain/langgraph";
import type { StreamMode } from "./schemas.js";
import type { SseEvent } from "./sse.js";
import { toWire } from "./wire.js";

/** One event of a run, numbered from 0 in the order it happened. */
export interface RunEvent {
  id: string;
  event: SseEvent;
  data: unknown;
}

/** LangGraph stream modes needed to produce the API modes `requested`. */
export function graphModesFor(requested: readonly StreamMode[]): GraphStreamMode[] {
  const modes = new Set<GraphStreamMode>();
  for (const mode of requested) {
    if (mode === "messages-tuple") modes.add("messages");
    else if (mode === "messages") {
      // Legacy "messages": partial messages from tokens, complete ones from node updates.
      modes.add("messages");
      modes.add("updates");
    } else modes.add(mode);
  }
  return [...modes];
}

/** Translates LangGraph chunks of one run into API events. */
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
        if (this.#requested.has("messages-tuple")) events.push(["messages", [toWire(chunk), toWire(metadata)]]);
        if (this.#requested.has("messages") && chunk.id) {
          const previous = this.#partial.get(chunk.id);
          if (!previous) events.push(["messages/metadata", { [chunk.id]: { metadata: toWire(metadata) } }]);
          const accumulated = previous ? previous.concat(chunk) : chunk;
          this.#partial.set(chunk.id, accumulated);
          events.push(["messages/partial", [toWire(accumulated)]]);
        }
        break;
      }
      case "updates": {
        if (this.#requested.has("updates")) events.push(["updates", toWire(payload)]);
        if (this.#requested.has("messages")) {
          const complete = this.#newCompleteMessages(payload as Record<string, { messages?: BaseMessage[] } | undefined>);
          if (complete.length > 0) events.push(["messages/complete", toWire(complete)]);
        }
        break;
      }
      default:
        if (this.#requested.has(mode as StreamMode)) events.push([mode as SseEvent, toWire(payload)]);
    }
    return events;
  }

  #newCompleteMessages(update: Record<string, { messages?: BaseMessage[] } | undefined>): BaseMessage[] {
    const complete: BaseMessage[] = [];
    for (const nodeUpdate of Object.values(update ?? {})) {
      for (const message of nodeUpdate?.messages ?? []) {
        if (!message.id || this.#completed.has(message.id)) continue;
        this.#completed.add(message.id);
        complete.push(message);
      }
    }
    return complete;
  }
}

/** An append-only event log with followers; finished when the run ends. */
export class RunEventLog {
  readonly #events: RunEvent[] = [];
  #finished = false;
  #wakeUps = new Set<() => void>();

  get finished(): boolean {
    return this.#finished;
  }

  push(event: SseEvent, data: unknown): void {
    this.#events.push({ id: String(this.#events.length), event, data });
    this.#wake();
  }

  finish(): void {
    this.#finished = true;
    this.#wake();
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
      }
      if (this.#finished) return;
      await new Promise<void>((resolve) => {
        this.#wakeUps.add(resolve);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }
}
