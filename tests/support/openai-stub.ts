/**
 * A small OpenAI-compatible server for tests: answers POST /v1/chat/completions in JSON or SSE,
 * records every request, and can inject HTTP errors, delays, and streams cut or paused mid-way.
 * Its default replies make memory observable: "My name is X" is remembered only if the
 * earlier message reached it again.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A message as it arrives on the wire. */
export interface WireMessage {
  role: string;
  content: string | { type: string; text?: string }[] | null;
  name?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/** The request body fields the tests look at. */
export interface ChatRequest {
  model: string;
  messages: WireMessage[];
  stream?: boolean;
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
}

export interface RecordedRequest {
  body: ChatRequest;
  headers: IncomingHttpHeaders;
  /** `performance.now()` when the request arrived. */
  receivedAt: number;
}

/** One injected behaviour, used by the next request (first in, first out). */
export type Fault =
  | { kind: "status"; status: number; message?: string; headers?: Record<string, string> }
  | { kind: "delay"; ms: number }
  | { kind: "cut"; afterChunks: number }
  /** Sends the headers and this many chunks, then nothing more, keeping the connection open. */
  | { kind: "stall"; afterChunks: number }
  /** Sends the headers and this many chunks, then the rest once `resume` settles: a reply caught mid-way. */
  | { kind: "pause"; afterChunks: number; resume: Promise<unknown> };

export type Responder = (request: ChatRequest) => string;

export interface OpenAiStub {
  /** Base URL to give the OpenAI client, ending in `/v1`. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Queues behaviours for the next requests, one each. */
  inject(...faults: Fault[]): void;
  /** Answers every request that `matches` with this HTTP error (until `reset`, or `undefined` to stop). */
  failMatching(matches: ((request: ChatRequest) => boolean) | undefined, status?: number): void;
  /** Replaces the reply text function (until `reset`). */
  respondWith(responder: Responder): void;
  /** Makes every reply carry this id, as some servers do (until `reset`). */
  useReplyId(id: string | undefined): void;
  /** Waits this long before answering every request, like a model thinking (until `reset`). */
  delayEveryReply(ms: number): void;
  /** Waits this long between streamed chunks, so a client can see a reply arrive piece by piece (until `reset`). */
  delayEveryChunk(ms: number): void;
  /** Forgets requests, faults and custom responders. */
  reset(): void;
  close(): Promise<void>;
}

/** The text of a wire message, whether its content is a string or parts. */
export function wireText(message: WireMessage): string {
  if (typeof message.content === "string") return message.content;
  if (!message.content) return "";
  return message.content.map((part) => part.text ?? "").join("");
}

/** Default replies: greets a name, answers "what is my name" from what it was sent. */
export const memoryResponder: Responder = (request) => {
  const userTexts = request.messages.filter((message) => message.role === "user").map(wireText);
  const last = userTexts.at(-1) ?? "";
  const introduced = /my name is (\w+)/i.exec(last);
  if (introduced) return `Nice to meet you, ${introduced[1]}!`;
  if (/what is my name/i.test(last)) {
    for (const text of userTexts.toReversed()) {
      const name = /my name is (\w+)/i.exec(text);
      if (name) return `Your name is ${name[1]}.`;
    }
    return "I don't know your name.";
  }
  return `You said: ${last}`;
};

/** Splits a reply into streamed pieces: one per word, keeping the spaces. */
const piecesOf = (text: string) => text.match(/\s*\S+/g) ?? [""];

async function readBody(request: import("node:http").IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function sendError(response: ServerResponse, fault: Extract<Fault, { kind: "status" }>): void {
  response.writeHead(fault.status, { "content-type": "application/json", ...fault.headers });
  response.end(
    JSON.stringify({ error: { message: fault.message ?? `Injected HTTP ${fault.status}`, type: "stub_error", code: null } }),
  );
}

/** Starts the stub on 127.0.0.1 on a free port. */
export async function startOpenAiStub(): Promise<OpenAiStub> {
  const requests: RecordedRequest[] = [];
  let faults: Fault[] = [];
  let responder: Responder = memoryResponder;
  let counter = 0;
  let fixedId: string | undefined;
  let everyDelay = 0;
  let chunkDelay = 0;
  let failing: { matches: (request: ChatRequest) => boolean; status: number } | undefined;

  const server: Server = createServer(async (request, response) => {
    if (request.method === "GET" && request.url === "/v1/models") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ object: "list", data: [{ id: "stub-model", object: "model" }] }));
      return;
    }
    if (request.method !== "POST" || request.url !== "/v1/chat/completions") {
      response.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
      return;
    }
    const receivedAt = performance.now();
    const body = JSON.parse(await readBody(request)) as ChatRequest;
    requests.push({ body, headers: request.headers, receivedAt });
    if (everyDelay > 0) await sleep(everyDelay);
    let fault = faults.shift();
    while (fault?.kind === "delay") {
      await sleep(fault.ms);
      fault = faults.shift();
    }
    if (fault?.kind === "status") return sendError(response, fault);
    if (failing?.matches(body)) return sendError(response, { kind: "status", status: failing.status });

    counter += 1;
    const id = fixedId ?? `chatcmpl-stub-${counter}`;
    const created = Math.floor(Date.now() / 1000);
    const text = responder(body);
    const usage = { prompt_tokens: 10, completion_tokens: piecesOf(text).length, total_tokens: 10 + piecesOf(text).length };

    if (!body.stream) {
      response.writeHead(200, { "content-type": "application/json" });
      if (fault?.kind === "stall") {
        // Headers out, body never: what a provider stuck mid-answer looks like.
        response.flushHeaders();
        return;
      }
      if (fault?.kind === "pause") await fault.resume.catch(() => undefined);
      response.end(
        JSON.stringify({
          id,
          object: "chat.completion",
          created,
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop", logprobs: null }],
          usage,
        }),
      );
      return;
    }

    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const chunk = (delta: object, finishReason: string | null = null) =>
      `data: ${JSON.stringify({
        id,
        object: "chat.completion.chunk",
        created,
        model: body.model,
        choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      })}\n\n`;
    const frames = [chunk({ role: "assistant", content: "" }), ...piecesOf(text).map((piece) => chunk({ content: piece }))];
    frames.push(chunk({}, "stop"));
    if (body.stream_options?.include_usage) {
      frames.push(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage })}\n\n`);
    }
    frames.push("data: [DONE]\n\n");
    for (const [index, frame] of frames.entries()) {
      if (fault?.kind === "cut" && index === fault.afterChunks) {
        response.socket?.destroy();
        return;
      }
      if (fault?.kind === "stall" && index === fault.afterChunks) return;
      if (chunkDelay > 0 && index > 0) await sleep(chunkDelay);
      if (fault?.kind === "pause" && index === fault.afterChunks) await fault.resume.catch(() => undefined);
      // Waiting for each write to flush makes a cut land after what was already sent.
      await new Promise<void>((resolve) => response.write(frame, () => resolve()));
    }
    response.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    inject: (...more) => {
      faults.push(...more);
    },
    respondWith: (next) => {
      responder = next;
    },
    useReplyId: (id) => {
      fixedId = id;
    },
    delayEveryReply: (ms) => {
      everyDelay = ms;
    },
    failMatching: (matches, status = 500) => {
      failing = matches ? { matches, status } : undefined;
    },
    delayEveryChunk: (ms) => {
      chunkDelay = ms;
    },
    reset: () => {
      requests.length = 0;
      faults = [];
      responder = memoryResponder;
      fixedId = undefined;
      everyDelay = 0;
      chunkDelay = 0;
      failing = undefined;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
