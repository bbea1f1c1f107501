/**
 * Answers a client from a run this instance holds: its events as an SSE stream, or its outcome
 * as JSON once it ends (`wait`, `join`).
 */
import type { Response } from "express";
import type { Agent } from "../../graph/agent.js";
import type { StreamGauge } from "../metrics.js";
import { openSse } from "../sse.js";
import { toWireJson } from "../wire.js";
import type { CancelAction, RunHandle } from "./run-handle.js";

/** Interval of the keep-alive newlines of `wait` and `join`. */
const KEEP_ALIVE_MS = 1000;

/** Who cancels a run whose client left with `on_disconnect: cancel`. */
export interface RunCanceller {
  cancel(threadId: string, runId: string, action: CancelAction): Promise<unknown>;
}

export interface StreamOptions {
  /** Cancel the run (`interrupt`) when the client leaves before it ends. */
  cancelOnDisconnect: boolean;
  /** Resume after this event (`Last-Event-ID`); from the start when undefined. */
  lastEventId?: string;
  /** Most bytes the stream may hold for a slow client (`STREAM_BUFFER_BYTES`). */
  maxBufferedBytes?: number;
  /** Counts the stream while it is open (the metrics' `active_streams`). */
  streams: StreamGauge;
}

/** Streams a run's events from its log; past the headers every failure is an `error` event. */
export async function streamHandle(runs: RunCanceller, handle: RunHandle, response: Response, options: StreamOptions): Promise<void> {
  const sse = openSse(response, { maxBufferedBytes: options.maxBufferedBytes, streams: options.streams });
  if (options.cancelOnDisconnect) {
    // Only a client that left: one ended for reading too slowly resumes, it did not leave.
    sse.disconnected.addEventListener("abort", () => {
      if (!handle.finished) void runs.cancel(handle.run.threadId, handle.run.runId, "interrupt").catch(() => undefined);
    });
  }
  for await (const { id, event, data } of handle.log.follow(options.lastEventId, sse.signal)) await sse.send(event, data, id);
  sse.end();
}

/** The body of `wait` and `join` as JSON: the final values, or `{__error__}` as the official server does. */
export async function outcomeBody(agent: Agent, handle: RunHandle): Promise<string> {
  const outcome = await handle.done;
  if (outcome.error) return JSON.stringify({ __error__: outcome.error });
  const values = outcome.values ?? (await agent.getState({ configurable: { thread_id: handle.run.threadId } })).values;
  return toWireJson(values as Record<string, unknown>);
}

/**
 * Answers with `body` once it resolves. Until then a newline goes out every second, as the
 * official server does, so proxies with idle timeouts keep long waits open (leading
 * whitespace is valid JSON).
 */
export async function respondWhenDone(response: Response, body: Promise<string>): Promise<void> {
  const keepAlive = setInterval(() => {
    if (!response.headersSent) response.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    response.write("\n");
  }, KEEP_ALIVE_MS);
  try {
    const json = await body;
    // Not `response.json`: it hashes the body for an ETag, which no client of a run's outcome
    // revalidates, and the body is a whole thread's values.
    if (!response.headersSent) response.setHeader("content-type", "application/json; charset=utf-8");
    response.end(json);
  } finally {
    clearInterval(keepAlive);
  }
}
