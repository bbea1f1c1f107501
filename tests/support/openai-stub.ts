/**
 * A small OpenAI-compatible server for tests: answers POST /v1/chat/completions in JSON or SSE,
 * records every request, and can inject HTTP errors, delays, and streams cut or paused mid-way.
 * Its default replies make memory observable: "My name is X" is remembered only if the
 * earlier message reached it again.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { MEMORY_EXTRACTION_INSTRUCTIONS } from "../../src/graph/memory-extraction.js";
import { TITLE_INSTRUCTIONS } from "../../src/graph/thread-title.js";

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
  /** Streamed replies: how many chunks were sent so far, so a test can follow a reply as it goes. */
  chunksSent: number;
  /** Streamed replies: whether the whole reply was sent. */
  complete: boolean;
}

/** One injected behaviour, used by the next request (first in, first out). */
export type Fault =
  | { kind: "status"; status: number; message?: string; headers?: Record<string, string> }
  | { kind: "delay"; ms: number }
  | { kind: "cut"; afterChunks: number }
  /** Sends the headers and this many chunks, then nothing more, keeping the connection open. */
  | { kind: "stall"; afterChunks: number }
  /** Sends the headers and this many chunks, then the rest once `resume` settles: a reply caught mid-way. */
  | { kind: "pause"; afterChunks: number; resume: Promise<unknown> }
  /** As `pause`, at each of `stops` in turn: a reply held more than once on its way. */
  | { kind: "pauses"; stops: Array<{ afterChunks: number; resume: Promise<unknown> }> };

/** A reply that calls tools instead of (or besides) answering in text. */
export interface ToolCallReply {
  content?: string;
  tool_calls: Array<{ name: string; arguments: Record<string, unknown>; id?: string }>;
}

/** The reply text, or tool calls, for a request. */
export type Responder = (request: ChatRequest) => string | ToolCallReply;

export interface OpenAiStub {
  /** Base URL to give the OpenAI client, ending in `/v1`. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Queues behaviours for the next requests, one each. */
  inject(...faults: Fault[]): void;
  /** Answers every request that `matches` with this HTTP error (until `reset`, or `undefined` to stop). */
  failMatching(matches: ((request: ChatRequest) => boolean) | undefined, status?: number): void;
  /** Every POST /v1/embeddings request body, in order. */
  embeddingRequests: Array<{ input: string | string[]; model: string }>;
  /** Makes POST /v1/embeddings answer this HTTP status (until `reset`, or `undefined` to stop). */
  failEmbeddings(status: number | undefined): void;
  /** Replaces the reply text function (until `reset`). */
  respondWith(responder: Responder): void;
  /** Makes every reply carry this id, as some servers do (until `reset`). */
  useReplyId(id: string | undefined): void;
  /** Waits this long before answering every request, like a model thinking (until `reset`). */
  delayEveryReply(ms: number): void;
  /** Waits this long between streamed chunks, so a client can see a reply arrive piece by piece (until `reset`). */
  delayEveryChunk(ms: number): void;
  /**
   * Holds the next reply (headers sent, no content) until the returned function is called or the
   * stub is reset: a model that has not answered yet, with no clock to race.
   */
  holdNextReply(): () => void;
  /**
   * Holds the replies to every request that `matches` (nothing sent yet) until the
   * returned function is called or the stub is reset; the others are answered as usual.
   */
  holdMatching(matches: (request: ChatRequest) => boolean): () => void;
  /** Forgets requests, faults and custom responders, and lets held replies go. */
  reset(): void;
  close(): Promise<void>;
}

/** The text of a wire message, whether its content is a string or parts. */
export function wireText(message: WireMessage): string {
  if (typeof message.content === "string") return message.content;
  if (!message.content) return "";
  return message.content.map((part) => part.text ?? "").join("");
}

/** Whether a request is a long-term memory extraction (its system message is the extractor's). */
export const isExtractionRequest = (request: ChatRequest): boolean =>
  request.messages[0] !== undefined && wireText(request.messages[0]).startsWith(MEMORY_EXTRACTION_INSTRUCTIONS);

/** Whether a request asks for a thread's title (its system message is the title writer's). */
export const isTitleRequest = (request: ChatRequest): boolean =>
  request.messages[0] !== undefined && wireText(request.messages[0]).startsWith(TITLE_INSTRUCTIONS);

/**
 * The stub's title writer, deterministic: the first four words of the user's first message, in
 * quotes with a final period, as models often answer (the server takes both off).
 */
export function titleAnswer(request: ChatRequest): string {
  const text = wireText(request.messages.at(-1)!);
  const user = /^User: (.*)$/m.exec(text)?.[1] ?? "";
  return `"${user.split(/\s+/).filter(Boolean).slice(0, 4).join(" ")}."`;
}

/**
 * The stub's memory extractor, deterministic: "my name is X" / "call me X" keep `name`, "I prefer
 * X" keeps `preference`, "forget my name" deletes `name`; in the JSON the extractor asks for.
 */
export function extractionAnswer(request: ChatRequest): string {
  const text = wireText(request.messages.at(-1)!);
  const lines = (text.split("The user's latest messages:\n")[1] ?? "").split("\n");
  const upsert = new Map<string, string>();
  const deletions = new Set<string>();
  for (const line of lines) {
    const name = /(?:my name is|call me) (\w+)/i.exec(line);
    if (/forget my name/i.test(line)) {
      upsert.delete("name");
      deletions.add("name");
    } else if (name) {
      upsert.set("name", `The user's name is ${name[1]}.`);
      deletions.delete("name");
    }
    const preference = /i prefer ([^.!?]+)/i.exec(line);
    if (preference) upsert.set("preference", `The user prefers ${preference[1]!.trim()}.`);
  }
  return JSON.stringify({ upsert: [...upsert].map(([key, value]) => ({ key, text: value })), delete: [...deletions] });
}

/**
 * Default replies: greets a name, answers "what is my name" from what it was sent (the thread, or
 * the memories in the system prompt), and answers memory extraction requests (`extractionAnswer`)
 * and title requests (`titleAnswer`).
 */
export const memoryResponder: Responder = (request) => {
  if (isExtractionRequest(request)) return extractionAnswer(request);
  if (isTitleRequest(request)) return titleAnswer(request);
  const userTexts = request.messages.filter((message) => message.role === "user").map(wireText);
  const last = userTexts.at(-1) ?? "";
  const introduced = /my name is (\w+)/i.exec(last);
  if (introduced) return `Nice to meet you, ${introduced[1]}!`;
  if (/what is my name/i.test(last)) {
    for (const text of userTexts.toReversed()) {
      const name = /my name is (\w+)/i.exec(text);
      if (name) return `Your name is ${name[1]}.`;
    }
    const system = request.messages.filter((message) => message.role === "system").map(wireText).join("\n");
    const remembered = /user's name is (\w+)/i.exec(system);
    if (remembered) return `Your name is ${remembered[1]}.`;
    return "I don't know your name.";
  }
  return `You said: ${last}`;
};

/** Dimensions of the stub's embeddings. */
export const STUB_EMBEDDING_DIMENSIONS = 64;

/**
 * A deterministic embedding: words (lowercased, a plural "s" dropped) hashed into 64 buckets,
 * normalised. Texts sharing words are close, so vector search behaves plausibly in tests.
 */
export function stubEmbedding(text: string): number[] {
  const vector = new Array<number>(STUB_EMBEDDING_DIMENSIONS).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    const stem = word.length > 3 && word.endsWith("s") ? word.slice(0, -1) : word;
    let hash = 2166136261;
    for (const character of stem) hash = Math.imul(hash ^ character.charCodeAt(0), 16777619);
    vector[(hash >>> 0) % STUB_EMBEDDING_DIMENSIONS] = (vector[(hash >>> 0) % STUB_EMBEDDING_DIMENSIONS] ?? 0) + 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => value / norm);
}

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
  let holding: { matches: (request: ChatRequest) => boolean; released: Promise<void> } | undefined;
  const embeddingRequests: Array<{ input: string | string[]; model: string }> = [];
  let embeddingFailure: number | undefined;
  const held: Array<() => void> = [];
  /** Counts resets. */
  let generation = 0;

  const server: Server = createServer(async (request, response) => {
    if (request.method === "GET" && request.url === "/v1/models") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ object: "list", data: [{ id: "stub-model", object: "model" }] }));
      return;
    }
    if (request.method === "POST" && request.url === "/v1/embeddings") {
      const body = JSON.parse(await readBody(request)) as { input: string | string[]; model: string; encoding_format?: string };
      embeddingRequests.push(body);
      if (embeddingFailure !== undefined) return sendError(response, { kind: "status", status: embeddingFailure });
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      response.writeHead(200, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          object: "list",
          model: body.model,
          // The OpenAI client asks for base64 (little-endian float32) unless told otherwise.
          data: inputs.map((input, index) => {
            const vector = stubEmbedding(input);
            const embedding = body.encoding_format === "base64" ? Buffer.from(Float32Array.from(vector).buffer).toString("base64") : vector;
            return { object: "embedding", index, embedding };
          }),
          usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
        }),
      );
      return;
    }
    if (request.method !== "POST" || request.url !== "/v1/chat/completions") {
      response.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
      return;
    }
    const receivedAt = performance.now();
    const body = JSON.parse(await readBody(request)) as ChatRequest;
    const recorded: RecordedRequest = { body, headers: request.headers, receivedAt, chunksSent: 0, complete: false };
    requests.push(recorded);
    // A request still waiting from before a reset (an earlier test's) must not take faults meant
    // for the requests of the test that runs now.
    const generationAtArrival = generation;
    const nextFault = () => (generation === generationAtArrival ? faults.shift() : undefined);
    if (everyDelay > 0) await sleep(everyDelay);
    let fault = nextFault();
    while (fault?.kind === "delay") {
      await sleep(fault.ms);
      fault = nextFault();
    }
    if (fault?.kind === "status") return sendError(response, fault);
    if (failing?.matches(body)) return sendError(response, { kind: "status", status: failing.status });
    if (holding?.matches(body)) await holding.released;

    counter += 1;
    const id = fixedId ?? `chatcmpl-stub-${counter}`;
    const created = Math.floor(Date.now() / 1000);
    const answer = responder(body);
    const text = typeof answer === "string" ? answer : (answer.content ?? "");
    const toolCalls = typeof answer === "string" ? [] : answer.tool_calls.map((call, index) => ({ id: call.id ?? `call_stub_${counter}_${index}`, type: "function", function: { name: call.name, arguments: JSON.stringify(call.arguments) } }));
    const finishReason = toolCalls.length > 0 ? "tool_calls" : "stop";
    const usage = { prompt_tokens: 10, completion_tokens: piecesOf(text).length, total_tokens: 10 + piecesOf(text).length };

    if (!body.stream) {
      response.writeHead(200, { "content-type": "application/json" });
      if (fault?.kind === "stall") {
        // Headers out, body never: what a provider stuck mid-answer looks like.
        response.flushHeaders();
        return;
      }
      if (fault?.kind === "pause") await fault.resume.catch(() => undefined);
      if (fault?.kind === "pauses") for (const stop of fault.stops) await stop.resume.catch(() => undefined);
      response.end(
        JSON.stringify({
          id,
          object: "chat.completion",
          created,
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: text, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) }, finish_reason: finishReason, logprobs: null }],
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
    const frames = [chunk({ role: "assistant", content: "" }), ...(text === "" ? [] : piecesOf(text).map((piece) => chunk({ content: piece })))];
    // Tool calls stream as OpenAI streams them: name and id first, then the arguments.
    toolCalls.forEach((call, index) => {
      frames.push(chunk({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] }));
      frames.push(chunk({ tool_calls: [{ index, function: { arguments: call.function.arguments } }] }));
    });
    frames.push(chunk({}, finishReason));
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
      if (fault?.kind === "pauses") for (const stop of fault.stops) if (index === stop.afterChunks) await stop.resume.catch(() => undefined);
      // Waiting for each write to flush makes a cut land after what was already sent.
      await new Promise<void>((resolve) => response.write(frame, () => resolve()));
      recorded.chunksSent += 1;
    }
    response.end();
    recorded.complete = true;
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
    embeddingRequests,
    failEmbeddings: (status) => {
      embeddingFailure = status;
    },
    failMatching: (matches, status = 500) => {
      failing = matches ? { matches, status } : undefined;
    },
    delayEveryChunk: (ms) => {
      chunkDelay = ms;
    },
    holdNextReply: () => {
      let release!: () => void;
      faults.push({ kind: "pause", afterChunks: 0, resume: new Promise<void>((resolve) => (release = resolve)) });
      held.push(release);
      return release;
    },
    holdMatching: (matches) => {
      let release!: () => void;
      holding = { matches, released: new Promise<void>((resolve) => (release = resolve)) };
      held.push(release);
      return release;
    },
    reset: () => {
      generation += 1;
      holding = undefined;
      for (const release of held.splice(0)) release();
      requests.length = 0;
      faults = [];
      responder = memoryResponder;
      fixedId = undefined;
      everyDelay = 0;
      chunkDelay = 0;
      failing = undefined;
      embeddingRequests.length = 0;
      embeddingFailure = undefined;
    },
    close: async () => {
      for (const release of held.splice(0)) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
