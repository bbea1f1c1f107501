/**
 * The agent streaming protocol over one WebSocket per thread (`GET /threads/{id}/stream/events`):
 * commands and their answers, and the events of the client's subscriptions, both ways on one
 * ordered socket.
 *
 * The upgrade request goes through the app like any request (`serveUpgrades`), so the same host,
 * site and key checks apply, and a refusal is an ordinary HTTP answer. Browsers cannot set
 * headers on a WebSocket, so there the key may come as `?api_key=` (see auth.ts).
 *
 * Subscriptions are the socket's: each event is sent once, when it matches any of them, and a
 * new subscription first gets the current run's events it matches (`replayed_events`, see
 * replay-start.ts), right after its answer. They hold across runs until unsubscribed or the socket closes. A subscription's id
 * carries its filter, so `subscription.reconnect` restores it on any instance.
 */
import type { Request, Response } from "express";
import type { Express } from "express";
import { randomUUID } from "node:crypto";
import { type IncomingMessage, type Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { isSupportedChannel } from "@langchain/langgraph/stream";
import { type WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import type { AppDeps } from "../app-deps.js";
import type { Logger } from "../../logger.js";
import { DEFAULT_STREAM_BUFFER_BYTES } from "../sse.js";
import { ProtocolCommand } from "../schemas.js";
import { type ProtocolCommands, type ProtocolResponse, ProtocolError, errorFrame, paramsOf } from "./commands.js";
import type { OwnerGate } from "./owner-gate.js";
import { currentRunStart } from "./replay-start.js";
import { type EventFilter, type ThreadEvent, matchesFilter } from "./thread-event.js";

/** Where `serveUpgrades` leaves the socket of an upgrade request for the route that accepts it. */
const UPGRADE = Symbol("websocket upgrade");
type UpgradeRequest = IncomingMessage & { [UPGRADE]?: { socket: Duplex; head: Buffer; server: Server } };

/** The open sockets of each server, closed with it (`closeSockets`). */
const openSockets = new WeakMap<Server, Set<WebSocket>>();

/** How often the server pings; a client that has not answered the previous ping is dropped. */
const PING_MS = 30_000;
/** Largest command frame accepted. */
const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Passes WebSocket upgrade requests through `app` as GET requests (its checks, logging and error
 * answers); a route that accepts one completes the handshake with `acceptProtocolSocket`. Any
 * other answer is written to the socket, which is then closed.
 */
export function serveUpgrades(server: Server, app: Express): void {
  server.on("upgrade", (request: UpgradeRequest, socket: Duplex, head: Buffer) => {
    request[UPGRADE] = { socket, head, server };
    const response = new ServerResponse(request);
    response.assignSocket(socket as never);
    response.on("finish", () => socket.end());
    socket.on("error", () => socket.destroy());
    app(request as Request, response as Response);
  });
}

/**
 * Closes the protocol sockets `server` accepted (going away, 1001): unlike idle HTTP connections,
 * `server.close()` would wait for them. Clients reconnect elsewhere and resume.
 */
export function closeSockets(server: Server): void {
  for (const socket of openSockets.get(server) ?? []) socket.close(1001, "the server is shutting down");
}

/** True for a request `serveUpgrades` passed on. */
export const isWebSocketUpgrade = (request: Request): boolean => (request as UpgradeRequest)[UPGRADE] !== undefined;

const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

const SubscribeParams = z.object({
  channels: z.array(z.string().refine(isSupportedChannel, { error: "unknown channel" })).min(1),
  namespaces: z.array(z.array(z.string())).optional(),
  depth: z.number().int().nonnegative().optional(),
});
const UnsubscribeParams = z.object({ subscription_id: z.string().min(1) });
const ReconnectParams = z.object({ run_id: z.string().min(1), last_event_id: z.string().optional(), subscriptions: z.array(z.string()).optional() });

/** A subscription id: a random part, then the filter, so any instance can restore it. */
const subscriptionId = (filter: EventFilter) => `${randomUUID()}.${Buffer.from(JSON.stringify(filter)).toString("base64url")}`;

/** The filter a subscription id carries; undefined when it is not one of ours. */
function filterOf(id: string): EventFilter | undefined {
  const encoded = id.split(".")[1];
  if (!encoded) return undefined;
  try {
    const parsed = SubscribeParams.safeParse(JSON.parse(Buffer.from(encoded, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What one socket needs. */
export interface ProtocolSocketOptions {
  threadId: string;
  owner: string | undefined;
  commands: ProtocolCommands;
  gate: OwnerGate;
}

/** Completes the handshake of an upgrade request the route accepted, and serves the socket. */
export function acceptProtocolSocket(deps: AppDeps, request: Request, response: Response, options: ProtocolSocketOptions): void {
  const upgrade = (request as UpgradeRequest)[UPGRADE];
  if (!upgrade) return;
  // The socket is the WebSocket's from here on, not the HTTP answer's.
  response.detachSocket(upgrade.socket as never);
  sockets.handleUpgrade(request, upgrade.socket, upgrade.head, (socket) => {
    let open = openSockets.get(upgrade.server);
    if (!open) openSockets.set(upgrade.server, (open = new Set()));
    const tracked = open;
    tracked.add(socket);
    deps.metrics.webSockets.inc();
    socket.on("close", () => {
      tracked.delete(socket);
      deps.metrics.webSockets.dec();
    });
    // Its lines carry the id of the upgrade request that opened it.
    new ProtocolSocket(deps, socket, options, request.log).start();
  });
}

/** One client's socket on a thread (see the module comment). */
class ProtocolSocket {
  readonly #subscriptions = new Map<string, EventFilter>();
  readonly #closed = new AbortController();
  /** Everything sent goes through this chain, so answers, replays and live events keep their order. */
  #queue: Promise<void> = Promise.resolve();
  /** The number of the last event the live pump has handled. */
  #cursor = 0;
  #alive = true;

  constructor(
    private readonly deps: AppDeps,
    private readonly socket: WebSocket,
    private readonly options: ProtocolSocketOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const { socket } = this;
    // Text or binary frames alike carry JSON; ws hands a Buffer, or its fragments.
    socket.on("message", (data) => this.#onMessage((Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString("utf8")));
    socket.on("close", () => this.#closed.abort());
    socket.on("error", () => this.#closed.abort());
    socket.on("pong", () => {
      this.#alive = true;
    });
    const ping = setInterval(() => {
      if (!this.#alive) socket.terminate();
      this.#alive = false;
      socket.ping();
    }, PING_MS);
    this.#closed.signal.addEventListener("abort", () => clearInterval(ping), { once: true });
    void this.#pump();
  }

  /** Serializes `work` after everything sent before it. */
  #serial(work: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(work).catch((error: unknown) => this.logger.warn({ err: error, threadId: this.options.threadId }, "protocol socket failed to send"));
    return this.#queue;
  }

  #send(message: ProtocolResponse | ThreadEvent): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify(message));
    // A client that does not read: close, it reconnects and resubscribes (its events are kept).
    if (this.socket.bufferedAmount > (this.deps.streamBufferBytes ?? DEFAULT_STREAM_BUFFER_BYTES)) this.socket.close(1013, "too many events waiting for this client");
  }

  /** Live events from the moment the socket opened: each sent once if a subscription wants it. */
  async #pump(): Promise<void> {
    const { threadId, gate } = this.options;
    try {
      // First in the send chain: a subscription that arrives meanwhile replays up to here.
      await this.#serial(async () => {
        this.#cursor = await this.deps.runs.feed.lastSeq(threadId);
      });
      for await (const event of this.deps.runs.feed.follow(threadId, this.#cursor, this.#closed.signal)) {
        await this.#serial(async () => {
          this.#cursor = event.seq;
          if (![...this.#subscriptions.values()].some((filter) => matchesFilter(event, filter))) return;
          if (!(await gate.allows())) {
            this.socket.close(4404, "thread not found");
            return;
          }
          this.#send(event);
        });
      }
    } catch (error) {
      this.logger.error({ err: error, threadId }, "protocol socket stream failed");
      this.socket.close(1011, "the thread's stream failed; reconnect");
    }
  }

  #onMessage(text: string): void {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      void this.#serial(async () => this.#send({ type: "error", id: null, error: "invalid_argument", message: "Protocol commands must be valid JSON" }));
      return;
    }
    const parsed = ProtocolCommand.safeParse(payload);
    if (!parsed.success) {
      void this.#serial(async () => this.#send({ type: "error", id: null, error: "invalid_argument", message: "Protocol commands need an integer id and a method" }));
      return;
    }
    const command = parsed.data;
    // Subscriptions are this socket's, answered in the send order; other commands may take a
    // while (a run's admission), and are answered when done.
    if (command.method.startsWith("subscription.")) void this.#serial(() => this.#subscription(command));
    else void this.#command(command);
  }

  async #command(command: ProtocolCommand): Promise<void> {
    let answer: ProtocolResponse;
    try {
      answer = await this.options.commands.handle(this.options.threadId, command, this.options.owner, this.logger);
    } catch (error) {
      answer = errorFrame(command.id, error);
    }
    await this.#serial(async () => this.#send(answer));
  }

  async #subscription(command: ProtocolCommand): Promise<void> {
    const meta = { thread_id: this.options.threadId, applied_through_seq: this.#cursor };
    try {
      switch (command.method) {
        case "subscription.subscribe": {
          const filter = paramsOf(SubscribeParams, command);
          const id = subscriptionId(filter);
          const after = await currentRunStart(this.deps, this.options.threadId);
          await this.#activate(command.id, [[id, filter]], (replayed) => ({ subscription_id: id, replayed_events: replayed }), after);
          return;
        }
        case "subscription.unsubscribe": {
          const { subscription_id } = paramsOf(UnsubscribeParams, command);
          if (!this.#subscriptions.delete(subscription_id)) throw new ProtocolError("no_such_subscription", `No subscription ${subscription_id} on this socket`);
          this.#send({ type: "success", id: command.id, result: {}, meta });
          return;
        }
        case "subscription.reconnect": {
          const params = paramsOf(ReconnectParams, command);
          const known = (await this.deps.storage.runs.getRun(this.options.threadId, params.run_id)) ?? this.deps.runs.handle(params.run_id);
          if (!known) throw new ProtocolError("no_such_run", `No run ${params.run_id} on thread ${this.options.threadId}`);
          const restored = (params.subscriptions ?? []).map((id) => [id, filterOf(id)] as const);
          const usable = restored.filter((entry): entry is readonly [string, EventFilter] => entry[1] !== undefined);
          const after = Number.parseInt(params.last_event_id ?? "0", 10);
          const { events } = await this.deps.runs.feed.runEvents(this.options.threadId, params.run_id);
          const statuses = new Map<string, { namespace: string[]; status: string }>();
          for (const event of events) {
            if (event.method === "lifecycle") statuses.set(JSON.stringify(event.params.namespace), { namespace: event.params.namespace, status: (event.params.data as { event: string }).event });
          }
          await this.#activate(command.id, usable, (replayed) => ({ restored: usable.length === restored.length, missed_events: replayed, current_namespaces: [...statuses.values()] }), Number.isNaN(after) ? 0 : after);
          return;
        }
        default:
          throw new ProtocolError("unknown_command", `Unknown command ${JSON.stringify(command.method)}`);
      }
    } catch (error) {
      this.#send(error instanceof ProtocolError ? { type: "error", id: command.id, error: error.code, message: error.message, meta } : errorFrame(command.id, error));
    }
  }

  /**
   * Answers a (re)subscription, then sends the kept events numbered above `after` and up to the
   * pump's cursor that it matches, then lets it receive live ones. Runs inside the send chain:
   * the pump sends nothing meanwhile.
   */
  async #activate(id: number, entries: ReadonlyArray<readonly [string, EventFilter]>, result: (replayed: number) => Record<string, unknown>, after: number): Promise<void> {
    const { threadId, gate } = this.options;
    const replay: ThreadEvent[] = [];
    if (entries.length > 0 && (await gate.allows())) {
      const kept = await this.#keptEvents(after);
      for (const event of kept) if (entries.some(([, filter]) => matchesFilter(event, filter))) replay.push(event);
    }
    this.#send({ type: "success", id, result: result(replay.length), meta: { thread_id: threadId, applied_through_seq: this.#cursor } });
    for (const event of replay) this.#send(event);
    for (const [subscription, filter] of entries) this.#subscriptions.set(subscription, filter);
  }

  /** The thread's kept events numbered above `after`, up to what the pump has handled. */
  async #keptEvents(after: number): Promise<ThreadEvent[]> {
    const events: ThreadEvent[] = [];
    const stop = new AbortController();
    for await (const event of this.deps.runs.feed.follow(this.options.threadId, after, stop.signal, { live: false })) {
      if (event.seq > this.#cursor) break;
      events.push(event);
    }
    return events;
  }
}
