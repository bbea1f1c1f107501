/**
 * A thread's protocol events read as a plain client reads them: `POST /threads/{id}/stream/events`
 * with a filter, the SSE frames parsed as they arrive, kept in arrival order.
 */
import type { ThreadEvent } from "../../../src/server/protocol/thread-event.js";
import { until } from "../../support/until.js";

/** Every channel a client can ask for. */
export const ALL_CHANNELS = ["values", "updates", "messages", "tools", "custom", "tasks", "checkpoints", "lifecycle", "input"];

/** The filter of an event stream (the protocol's `EventStreamRequest`). */
export interface EventStreamBody {
  channels: string[];
  namespaces?: string[][];
  depth?: number;
  since?: number;
}

/** An open event stream: what it received so far, and how to wait for more. */
export interface RawEventStream {
  /** The events received, in the order they came. */
  events: ThreadEvent[];
  /** Waits until `predicate` holds over the events; fails if the stream ends first (or in the bound of `until`). */
  waitFor(predicate: (events: ThreadEvent[]) => boolean): Promise<void>;
  close(): Promise<void>;
}

/** True for the root's last lifecycle event of a run (completed, failed or interrupted). */
export const isRootEnd = (event: ThreadEvent): boolean =>
  event.method === "lifecycle" && event.params.namespace.length === 0 && ["completed", "failed", "interrupted"].includes((event.params.data as { event: string }).event);

/** The text of a `messages` event that carries a token; undefined for any other event. */
export function tokenOf(event: ThreadEvent): string | undefined {
  const data = event.params.data as { event?: string; delta?: { type?: string; text?: string } };
  return event.method === "messages" && data.event === "content-block-delta" && data.delta?.type === "text-delta" ? data.delta.text : undefined;
}

/** The numbers of `events`, in the order they came. */
export const seqsOf = (events: ThreadEvent[]): number[] => events.map((event) => event.seq);

/** Opens `POST {baseUrl}/threads/{threadId}/stream/events` with `body`; answers once the headers are in. */
export async function openRawEventStream(baseUrl: string, threadId: string, body: EventStreamBody): Promise<RawEventStream> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/threads/${threadId}/stream/events`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  if (response.status !== 200 || !response.body) throw new Error(`event stream refused: ${response.status} ${await response.text()}`);
  const events: ThreadEvent[] = [];
  let ended = false;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const pump = (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          // Comments (heartbeats) start with ":"; the event is the one data: line.
          const data = frame.split("\n").find((line) => line.startsWith("data: "));
          if (data) events.push(JSON.parse(data.slice("data: ".length)) as ThreadEvent);
        }
      }
    } catch {
      // Aborted by close(), or the server went away: `ended` says so.
    } finally {
      ended = true;
    }
  })();
  return {
    events,
    async waitFor(predicate) {
      await until(() => {
        if (predicate(events)) return true;
        if (ended) throw new Error(`the event stream ended first, after ${events.length} events`);
        return false;
      });
    },
    async close() {
      controller.abort();
      await pump;
    },
  };
}
