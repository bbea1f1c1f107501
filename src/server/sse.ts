import { once } from "node:events";
import type { Response } from "express";

/** Event names of the LangGraph streaming protocol that this server emits. */
export type SseEvent =
  | "metadata"
  | "values"
  | "updates"
  | "messages"
  | "messages/metadata"
  | "messages/partial"
  | "messages/complete"
  | "custom"
  | "debug"
  | "tasks"
  | "checkpoints"
  | "tools"
  | "events"
  | "error"
  | "end";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  // Tells nginx-style proxies not to buffer, or tokens would arrive in bursts.
  "x-accel-buffering": "no",
} as const;

/** An open SSE response: `send` respects back-pressure, `signal` fires when the client leaves. */
export interface SseStream {
  signal: AbortSignal;
  send(event: SseEvent, data: unknown, id?: string): Promise<void>;
  end(): void;
}

/**
 * Opens an SSE response. Call it only after everything that can fail with a JSON error
 * (validation, lookups, locking) has succeeded: after this, errors become `error` events.
 */
export function openSse(response: Response, headers: Record<string, string> = {}): SseStream {
  const disconnected = new AbortController();
  response.on("close", () => disconnected.abort());
  response.writeHead(200, { ...SSE_HEADERS, ...headers });
  response.flushHeaders();
  return {
    signal: disconnected.signal,
    async send(event, data, id) {
      if (disconnected.signal.aborted) return;
      // JSON.stringify never emits raw newlines, so one data: line is always a whole frame.
      const frame = `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      if (!response.write(frame)) {
        await once(response, "drain", { signal: disconnected.signal }).catch(() => undefined);
      }
    },
    end: () => {
      if (!response.writableEnded) response.end();
    },
  };
}
