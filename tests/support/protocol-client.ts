/**
 * Driving the agent streaming protocol the way users do: the official SDK's `ThreadStream`
 * (`client.threads.stream`) over SSE or a WebSocket, unchanged, plus a raw SSE reader for what
 * the SDK does not expose (`since`). Every stream a test opens is closed by `closeAll`.
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

/**
 * Reads `POST /threads/{id}/stream/events` as raw SSE until `enough` holds for the events so far
 * (or the server ends the stream), then disconnects. Rejects with the status on a refusal.
 */
export async function readEventStream(
  baseUrl: string,
  threadId: string,
  body: { channels: string[]; namespaces?: string[][]; depth?: number; since?: number },
  enough: (events: WireEvent[]) => boolean,
  headers: Record<string, string> = {},
): Promise<WireEvent[]> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/threads/${threadId}/stream/events`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...headers },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  if (!response.ok || !response.body) throw Object.assign(new Error(`stream refused: ${response.status} ${await response.text()}`), { status: response.status });
  const events: WireEvent[] = [];
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
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
        // Comments (heartbeats) carry no data.
        if (data) events.push(JSON.parse(data) as WireEvent);
      }
      if (enough(events)) break;
    }
  } finally {
    controller.abort();
  }
  return events;
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
