/**
 * The agent streaming protocol's HTTP face (`@langchain/protocol`, as `@langchain/react`'s
 * `useStream`, the SDK's `threads.stream` and `RemoteGraph.streamEvents` v3 speak it):
 * - `POST /threads/{thread_id}/commands`: one command, one JSON answer (see protocol/commands.ts);
 * - `POST /threads/{thread_id}/stream/events`: the thread's events that a filter selects, as SSE,
 *   from storage (what follows `since`, or without it the current run's: see replay-start.ts)
 *   and then live, until the client leaves;
 * - `GET /threads/{thread_id}/stream/events` with `Upgrade: websocket`: both at once, on one
 *   socket (see protocol/websocket.ts).
 * A malformed envelope or filter is a 400; the thread may not exist yet, but may not be another
 * owner's (404).
 */
import type { Request } from "express";
import { Router } from "express";
import { z } from "zod";
import { BadRequestError, NotFoundError } from "../../errors.js";
import type { AppDeps } from "../app-deps.js";
import { ownerOf } from "../auth.js";
import { OwnerGate } from "../protocol/owner-gate.js";
import { ProtocolCommands } from "../protocol/commands.js";
import { currentRunStart } from "../protocol/replay-start.js";
import { matchesFilter } from "../protocol/thread-event.js";
import { acceptProtocolSocket, isWebSocketUpgrade } from "../protocol/websocket.js";
import { EventStreamRequest, ProtocolCommand, ThreadPath, parseInput } from "../schemas.js";
import { type SseEvent, openSse } from "../sse.js";

/** How often an SSE stream with nothing to say sends a comment, so proxies and clients know it lives. */
const HEARTBEAT_MS = 15_000;

/** Parses a protocol body, or refuses it with 400 (the official server's status for a malformed one). */
function parseFrame<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
  throw new BadRequestError(`Malformed ${what}: ${problems.join("; ")}`);
}

/** True when the thread exists for `owner`; NotFoundError when it exists for someone else. */
async function threadVisible(deps: AppDeps, threadId: string, owner: string | undefined): Promise<boolean> {
  if (await deps.storage.threads.getThread(threadId, owner)) return true;
  // Another owner's thread must look like no thread; so must one that does not exist yet, but
  // that one may be streamed (its events start with the run.start that creates it).
  if (owner !== undefined && (await deps.storage.threads.getThread(threadId))) throw new NotFoundError(`Thread ${threadId} not found`);
  return false;
}

export function protocolRouter(deps: AppDeps): Router {
  const router = Router();
  const commands = new ProtocolCommands(deps);
  const threadOf = (request: Request) => parseInput(ThreadPath, request.params, "path").thread_id;

  router.post("/threads/:thread_id/commands", async (request, response) => {
    const threadId = threadOf(request);
    const command = parseFrame(ProtocolCommand, request.body, "protocol command: it needs an integer id and a method");
    response.json(await commands.handle(threadId, command, ownerOf(response), request.log));
  });

  router.post("/threads/:thread_id/stream/events", async (request, response) => {
    const threadId = threadOf(request);
    const filter = parseFrame(EventStreamRequest, request.body, "event stream request");
    const owner = ownerOf(response);
    const gate = new OwnerGate(deps.storage, threadId, owner, await threadVisible(deps, threadId, owner));
    const after = filter.since ?? (await currentRunStart(deps, threadId));
    const sse = openSse(response, { maxBufferedBytes: deps.streamBufferBytes, streams: deps.metrics.sseStreams });
    const heartbeat = setInterval(() => sse.comment("heartbeat"), HEARTBEAT_MS);
    try {
      for await (const event of deps.runs.feed.follow(threadId, after, sse.signal)) {
        if (!matchesFilter(event, filter)) continue;
        if (!(await gate.allows())) break;
        await sse.send(event.method as SseEvent, event, event.event_id);
      }
    } catch (error) {
      request.log.error({ err: error, threadId }, "protocol event stream failed");
    } finally {
      clearInterval(heartbeat);
      sse.end();
    }
  });

  router.get("/threads/:thread_id/stream/events", async (request, response) => {
    const threadId = threadOf(request);
    if (!isWebSocketUpgrade(request)) {
      response.status(426).setHeader("Upgrade", "websocket").json({ detail: `GET ${request.path} is the protocol's WebSocket: connect with Upgrade: websocket, or POST a filter for SSE` });
      return;
    }
    const owner = ownerOf(response);
    const visible = await threadVisible(deps, threadId, owner);
    acceptProtocolSocket(deps, request, response, { threadId, owner, commands, gate: new OwnerGate(deps.storage, threadId, owner, visible) });
  });

  return router;
}
