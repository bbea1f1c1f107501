/**
 * Driving the agent streaming protocol the way users do: the official SDK's `ThreadStream`
 * (`client.threads.stream`) over SSE or a WebSocket, unchanged, plus raw HTTP for what the SDK
 * does not expose (`since`, malformed commands): SSE readers and `sendCommand`. Every stream a
 * test opens is closed by `closeAll`.
 */
import type { Client } from "@langchain/langgraph-sdk";
import WebSocket from "ws";
import { until } from "./until.js";

/** The SDK's two built-in transports. */
export type Transport = "sse" | "websocket";
export const TRANSPORTS: Transport[] = ["sse", "websocket"];

/** A protocol event as the client receives it (the fields the tests read). */
export interface WireEvent {
  type: "event";
  seq: number;
  event_id: string;
  method: string;
  params: { namespace: string[]; timestamp: number; node?: string; data: unknown };
}

/** What a root `lifecycle` event says. */
export interface LifecycleData {
  event: string;
  graph_name?: string;
  error?: string;
}

/** The handle `client.threads.stream` returns. */
export type ThreadStream = ReturnType<Client["threads"]["stream"]>;

/**
 * A WebSocket factory for the SDK (Node 20 has no global WebSocket): `ws`, with `headers` on the
 * upgrade request and `query` appended to the URL the SDK built.
 */
export function webSocketFactory(options: { headers?: Record<string, string>; query?: Record<string, string> } = {}) {
  return (url: string) => {
    const target = new URL(url);
    for (const [key, value] of Object.entries(options.query ?? {})) target.searchParams.set(key, value);
    // ws implements the parts of the DOM WebSocket the SDK uses (addEventListener, send, close).
    return new WebSocket(target, { headers: options.headers }) as unknown as globalThis.WebSocket;
  };
}

/** Root lifecycle events only (the run's own: running first, then how it ended). */
export const isRootLifecycle = (event: WireEvent): boolean => event.method === "lifecycle" && event.params.namespace.length === 0;
const TERMINAL = new Set(["completed", "failed", "interrupted"]);
export const isRootTerminal = (event: WireEvent): boolean => isRootLifecycle(event) && TERMINAL.has((event.params.data as LifecycleData).event);

/** The text of a message's content: a string, or the text of its blocks. */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((block: unknown) => (typeof block === "string" ? block : ((block as { text?: string }).text ?? ""))).join("");
}

/** The text of each message of a state (SDK message instances or plain dicts), oldest first. */
export const messageTexts = (values: unknown): string[] => ((values as { messages?: Array<{ content: unknown }> } | undefined)?.messages ?? []).map((message) => textOf(message.content));

/**
 * Opens `ThreadStream`s on one server and closes them all at the end of a test; records every
 * event each stream hands to `onEvent` (each once, as the SDK dedupes them).
 */
export class ThreadStreams {
  readonly #open: ThreadStream[] = [];
  readonly #events = new Map<ThreadStream, WireEvent[]>();

  constructor(private readonly client: () => Client) {}

  /** A stream on `threadId` bound to the `agent` assistant, recording its events from now on. */
  open(threadId: string, transport: Transport, options: { client?: Client; factory?: (url: string) => globalThis.WebSocket } = {}): ThreadStream {
    const client = options.client ?? this.client();
    const thread = client.threads.stream(threadId, {
      assistantId: "agent",
      transport,
      ...(transport === "websocket" ? { webSocketFactory: options.factory ?? webSocketFactory() } : {}),
    });
    const events: WireEvent[] = [];
    thread.onEvent((event) => events.push(event as unknown as WireEvent));
    this.#open.push(thread);
    this.#events.set(thread, events);
    return thread;
  }

  /** The events `thread` has received so far, in arrival order. */
  events(thread: ThreadStream): WireEvent[] {
    const events = this.#events.get(thread);
    if (!events) throw new Error("not a stream opened here");
    return events;
  }

  /** The statuses of the root lifecycle events `thread` received, in order. */
  rootLifecycle(thread: ThreadStream): string[] {
    return this.events(thread).filter(isRootLifecycle).map((event) => (event.params.data as LifecycleData).event);
  }

  /** Waits (bounded) until `thread` has seen `count` runs end. */
  async runsEnded(thread: ThreadStream, count: number): Promise<void> {
    await until(() => this.events(thread).filter(isRootTerminal).length >= count);
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#open.splice(0).map((thread) => thread.close().catch(() => undefined)));
    this.#events.clear();
  }
}

/** The protocol events of an SSE body as they arrive (comments, the heartbeats, carry none). */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<WireEvent> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const frame = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data) yield JSON.parse(data) as WireEvent;
    }
  }
}

/** The filter of an event stream (the protocol's `EventStreamRequest`). */
export interface EventStreamBody {
  channels: string[];
  namespaces?: string[][];
  depth?: number;
  since?: number;
}

/** `POST /threads/{id}/stream/events`; rejects with the status on a refusal. */
async function openEventStream(baseUrl: string, threadId: string, body: EventStreamBody, headers: Record<string, string>, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
  const response = await fetch(`${baseUrl}/threads/${threadId}/stream/events`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...headers },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok || !response.body) throw Object.assign(new Error(`stream refused: ${response.status} ${await response.text()}`), { status: response.status });
  return response.body;
}

/**
 * Reads `POST /threads/{id}/stream/events` as raw SSE until `enough` holds for the events so far
 * (checked after each event), or the server ends the stream, then disconnects. Rejects with the
 * status on a refusal.
 */
export async function readEventStream(
  baseUrl: string,
  threadId: string,
  body: EventStreamBody,
  enough: (events: WireEvent[]) => boolean,
  headers: Record<string, string> = {},
): Promise<WireEvent[]> {
  const controller = new AbortController();
  const events: WireEvent[] = [];
  try {
    for await (const event of sseEvents(await openEventStream(baseUrl, threadId, body, headers, controller.signal))) {
      events.push(event);
      if (enough(events)) break;
    }
  } finally {
    controller.abort();
  }
  return events;
}

/** Reads a thread's events until the end of the run that is going (its root's last lifecycle event). */
export const readRun = (baseUrl: string, threadId: string, body: EventStreamBody, headers: Record<string, string> = {}): Promise<WireEvent[]> =>
  readEventStream(baseUrl, threadId, body, (events) => isRootTerminal(events.at(-1) as WireEvent), headers);

/** An event stream kept open: what it received so far, and how to wait for more. */
export interface RawEventStream {
  /** The events received, in the order they came. */
  events: WireEvent[];
  /** Waits until `predicate` holds over the events; fails if the stream ends first (or in the bound of `until`). */
  waitFor(predicate: (events: WireEvent[]) => boolean): Promise<void>;
  close(): Promise<void>;
}

/** Opens an event stream that gathers its events in the background; answers once the headers are in. */
export async function openRawEventStream(baseUrl: string, threadId: string, body: EventStreamBody): Promise<RawEventStream> {
  const controller = new AbortController();
  const stream = await openEventStream(baseUrl, threadId, body, {}, controller.signal);
  const events: WireEvent[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for await (const event of sseEvents(stream)) events.push(event);
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

/** The text of a `messages` event that carries a token; undefined for any other event. */
export function tokenOf(event: WireEvent): string | undefined {
  const data = event.params.data as { event?: string; delta?: { type?: string; text?: string } };
  return event.method === "messages" && data.event === "content-block-delta" && data.delta?.type === "text-delta" ? data.delta.text : undefined;
}

/** The numbers of `events`, in the order they came. */
export const seqsOf = (events: WireEvent[]): number[] => events.map((event) => event.seq);

/** POSTs one protocol command on raw HTTP; the status and the JSON answer. */
export async function sendCommand(baseUrl: string, threadId: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}/threads/${threadId}/commands`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Every channel of the protocol: a filter that selects every event. */
export const ALL_CHANNELS = ["values", "updates", "messages", "tools", "custom", "lifecycle", "input", "checkpoints", "tasks"];

/** A user turn as `run.start` takes it. */
export const userTurn = (content: string) => ({ input: { messages: [{ role: "user", content }] } });

/** `thread.run.start(params)`, and the id of the run it started. */
export async function startRun(thread: ThreadStream, params: Parameters<ThreadStream["run"]["start"]>[0]): Promise<string> {
  const { run_id: runId } = await thread.run.start(params);
  if (!runId) throw new Error("run.start answered without a run_id");
  return runId;
}
