import { setImmediate } from "node:timers/promises";
import type { Response } from "express";
import type { StreamGauge } from "./metrics.js";

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
  | "end"
  /** A client's write to a thread's state, on the thread's stream. */
  | "state_update"
  /** The agent streaming protocol's own methods, beside the modes above that it shares. */
  | "lifecycle"
  | "input.requested"
  | "input.answered";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  // Tells nginx-style proxies not to buffer, or tokens would arrive in bursts.
  "x-accel-buffering": "no",
} as const;

/** An open SSE response: `signal` fires when writing stops, `disconnected` only when the client left. */
export interface SseStream {
  /** Fires when the client leaves or the stream is ended for reading too slowly: stop producing. */
  signal: AbortSignal;
  /** Fires only when the client left (what `on_disconnect: cancel` acts on). */
  disconnected: AbortSignal;
  send(event: SseEvent, data: unknown, id?: string): Promise<void>;
  /** Writes an SSE comment, which clients ignore: a heartbeat on a quiet stream. */
  comment(text: string): void;
  end(): void;
}

/** What one stream may hold for its client before it is ended (`STREAM_BUFFER_BYTES`). */
export const DEFAULT_STREAM_BUFFER_BYTES = 4 * 1024 * 1024;
/** How long an ended stream's last bytes may take to leave before its socket is closed. */
const FLUSH_GRACE_MS = 60_000;

export interface SseOptions {
  headers?: Record<string, string>;
  /**
   * Most bytes one stream may hold waiting for a slow (or never reading) client. Past it the
   * stream ends with an `error` event naming the last event sent, and the client resumes from
   * there with `Last-Event-ID`; a client that does not read even that is disconnected.
   */
  maxBufferedBytes?: number;
  /** Counts the stream while it is open (the metrics' `active_streams`). */
  streams: StreamGauge;
}

/**
 * Opens an SSE response. Call it only after everything that can fail with a JSON error
 * (validation, lookups, locking) has succeeded: after this, errors become `error` events.
 *
 * A client that does not keep up has its frames queued, up to `maxBufferedBytes` (the socket's
 * own kernel buffers aside); past that the stream ends, and an ended stream whose client still
 * does not read is closed after a grace period. Before, a reader that never read held its socket,
 * and all the kernel buffered for it, for as long as it liked.
 */
export function openSse(response: Response, options: SseOptions): SseStream {
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_STREAM_BUFFER_BYTES;
  const disconnected = new AbortController();
  const stopped = new AbortController();
  const { streams } = options;
  streams.inc();
  response.on("close", () => {
    streams.dec();
    disconnected.abort();
    stopped.abort();
  });
  response.writeHead(200, { ...SSE_HEADERS, ...options.headers });
  response.flushHeaders();
  let lastId: string | undefined;

  const overflow = () => {
    stopped.abort();
    const resume = lastId === undefined ? "reconnect to start again" : `reconnect with Last-Event-ID: ${lastId} to resume`;
    const message = `The stream was ended because more than ${maxBufferedBytes} bytes waited for this client to read them; ${resume}`;
    // No `id:` line: the client's Last-Event-ID must stay the last event it really got.
    finish(`event: error\ndata: ${JSON.stringify({ error: "StreamBufferFull", message, last_event_id: lastId ?? null })}\n\n`);
  };

  /** Ends the response; a client that never reads what is left is disconnected after the grace. */
  const finish = (lastFrame?: string) => {
    if (response.writableEnded) return;
    response.end(lastFrame);
    if (response.writableFinished) return;
    const timer = setTimeout(() => response.destroy(), FLUSH_GRACE_MS);
    timer.unref();
    response.once("close", () => clearTimeout(timer));
  };

  return {
    signal: stopped.signal,
    disconnected: disconnected.signal,
    async send(event, data, id) {
      if (stopped.signal.aborted) return;
      // JSON.stringify never emits raw newlines, so one data: line is always a whole frame.
      const flushed = response.write(`${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (id !== undefined) lastId = id;
      if (response.writableLength > maxBufferedBytes) overflow();
      // A full buffer: give the socket a turn of the event loop to send, without waiting for a
      // client that may never read (a replayed log would otherwise be queued in one go).
      else if (!flushed) await setImmediate();
    },
    comment(text) {
      if (!stopped.signal.aborted) response.write(`: ${text}\n\n`);
    },
    end: () => finish(),
  };
}
