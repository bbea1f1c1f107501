/**
 * Deflate for what the storage writes most of: serialised messages, checkpoint values and run
 * requests. Each is a few hundred bytes of text wrapped in the same JSON every time (LangChain's
 * constructor format, the run's kwargs), so a preset dictionary of that wrapping, rather than the
 * row itself, pays for the keys: a row costs about what its text deflates to.
 *
 * A compressed payload says so (a type suffix, or a leading byte for JSON columns), so rows
 * written before compression, or too small to gain from it, are read as they are.
 */
import type { SerializerProtocol } from "@langchain/langgraph-checkpoint";
import { deflateRawSync, inflateRawSync } from "node:zlib";

/**
 * The preset dictionary of version 1: JSON that surrounds the text of messages, checkpoints and
 * run requests as this service writes them. No words of any language, only our own keys. NEVER
 * EDIT IT: every row deflated with it is read with it. A better one is version 2, with its own tag.
 */
const DICTIONARY_1 = Buffer.from(
  [
    '{"v":4,"id":"","ts":"","channel_values":{},"channel_versions":{"__start__":,"messages":,"windowStart":,"summary":,',
    '"branch:to:trim":,"branch:to:model":,"branch:to:tools":},"versions_seen":{"__input__":{},"__start__":{"__start__":},',
    '"trim":{"branch:to:trim":},"model":{"branch:to:model":},"tools":{"branch:to:tools":}}}',
    '{"source":"loop","step":,"parents":{},"run_id":"","thread_id":"","assistant_id":"","graph_id":"agent"}',
    '{"input":{"messages":[{"role":"user","content":""}]},"command":null,"config":{"configurable":{}},"context":{},',
    '"stream_mode":["values"],"interrupt_before":null,"interrupt_after":null,"checkpoint_id":null,"on_disconnect":"continue","if_not_exists":"reject"}',
    '{"lc":1,"type":"constructor","id":["langchain_core","messages","SystemMessage"],"kwargs":{"content":"","additional_kwargs":{},"response_metadata":{},"id":""}}',
    '{"lc":1,"type":"constructor","id":["langchain_core","messages","ToolMessage"],"kwargs":{"content":"","tool_call_id":"call_","name":"","status":"success",',
    '"artifact":{"lc":2,"type":"undefined"},"additional_kwargs":{},"response_metadata":{},"id":""}}',
    '"tool_calls":[{"name":"","args":{},"id":"call_","type":"tool_call"}],"invalid_tool_calls":[],',
    '"system_fingerprint":"fp_","service_tier":"default","prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},',
    '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}',
    '{"lc":1,"type":"constructor","id":["langchain_core","messages","HumanMessage"],"kwargs":{"content":"","additional_kwargs":{},"response_metadata":{},"id":"',
    '{"lc":1,"type":"constructor","id":["langchain_core","messages","AIMessage"],"kwargs":{"id":"chatcmpl-","name":{"lc":2,"type":"undefined"},"content":"',
    '","additional_kwargs":{"function_call":{"lc":2,"type":"undefined"},"tool_calls":{"lc":2,"type":"undefined"}},',
    '"response_metadata":{"tokenUsage":{"promptTokens":,"completionTokens":,"totalTokens":},"finish_reason":"stop","model_provider":"openai","model_name":"gpt-4o-mini",',
    '"usage":{"prompt_tokens":,"completion_tokens":,"total_tokens":}},"type":"ai","tool_calls":[],"invalid_tool_calls":[],',
    '"usage_metadata":{"output_tokens":,"input_tokens":,"total_tokens":,"input_token_details":{"audio":{"lc":2,"type":"undefined"},"cache_read":{"lc":2,"type":"undefined"}},',
    '"output_token_details":{"audio":{"lc":2,"type":"undefined"},"reasoning":{"lc":2,"type":"undefined"}}}}}',
  ].join(""),
);

/** Suffix of a serialiser type whose bytes were deflated with `DICTIONARY_1`. */
const DEFLATED_1 = "+deflate1";
/** First byte of a JSON column's value deflated with `DICTIONARY_1` (JSON text never starts with it). */
const JSON_DEFLATED_1 = 0x01;
/** Below this many bytes deflate rarely gains enough to pay for its work on every read. */
const SMALLEST_DEFLATED = 96;

// Buffers of a few KiB, not zlib's default 16 KiB: each call allocates one, and most payloads
// are under 1 KiB (a quarter of the time of deflating one, measured); larger ones take several.
// A 4 KiB window, not 32 KiB: the dictionary and most payloads fit in it, and zlib's state for
// each call shrinks from about 256 KiB to 20 KiB, which halves the time of a call on a busy
// server (16 against 32 µs a payload, measured); a 12 KiB message deflates about 3% larger.
// Inflating is unchanged: a window of 32 KiB reads what any smaller one wrote.
const deflate = (bytes: Uint8Array) => deflateRawSync(bytes, { dictionary: DICTIONARY_1, chunkSize: 2048, windowBits: 12 });
const inflate = (bytes: Uint8Array) => inflateRawSync(bytes, { dictionary: DICTIONARY_1, chunkSize: 4096 });

/** `[type, bytes]` deflated, and tagged so, when that makes them smaller; else as given. */
export function deflateTyped(type: string, bytes: Uint8Array): [string, Uint8Array] {
  if (bytes.byteLength < SMALLEST_DEFLATED) return [type, bytes];
  const deflated = deflate(bytes);
  return deflated.byteLength < bytes.byteLength ? [`${type}${DEFLATED_1}`, deflated] : [type, bytes];
}

/** The `[type, bytes]` that `deflateTyped` was given; rows it never deflated come back unchanged. */
export function inflateTyped(type: string, data: Uint8Array | string): [string, Uint8Array | string] {
  if (!type.endsWith(DEFLATED_1)) return [type, data];
  return [type.slice(0, -DEFLATED_1.length), inflate(typeof data === "string" ? Buffer.from(data) : data)];
}

/** `value` as JSON for a column that also holds plain JSON text: deflated behind a marker byte when that is smaller. */
export function packJson(value: unknown): Buffer {
  const text = Buffer.from(JSON.stringify(value));
  if (text.byteLength < SMALLEST_DEFLATED) return text;
  const deflated = deflate(text);
  return deflated.byteLength + 1 < text.byteLength ? Buffer.concat([Buffer.of(JSON_DEFLATED_1), deflated]) : text;
}

/** Reads what `packJson` wrote, or plain JSON (as text or bytes) written before it. */
export function unpackJson(data: Uint8Array | string): unknown {
  if (typeof data === "string") return JSON.parse(data);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return JSON.parse((bytes[0] === JSON_DEFLATED_1 ? inflate(bytes.subarray(1)) : bytes).toString("utf8"));
}

/**
 * Several `[type, bytes]` deflated together, as one payload: what they share (the wrapping of a
 * question and its answer) is paid once, and they need one row. Each item is framed as its
 * type's length (1 byte), the type, its bytes' length (4 bytes) and the bytes.
 */
export function deflateFrames(items: ReadonlyArray<readonly [string, Uint8Array]>): Buffer {
  const parts: Buffer[] = [];
  for (const [type, bytes] of items) {
    const typeBytes = Buffer.from(type);
    if (typeBytes.byteLength > 255) throw new Error(`Type ${type.slice(0, 40)}… is too long to frame`);
    const header = Buffer.alloc(5 + typeBytes.byteLength);
    header.writeUInt8(typeBytes.byteLength, 0);
    typeBytes.copy(header, 1);
    header.writeUInt32LE(bytes.byteLength, 1 + typeBytes.byteLength);
    parts.push(header, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  return deflate(Buffer.concat(parts));
}

/** The items `deflateFrames` was given, in order. */
export function inflateFrames(data: Uint8Array): Array<[string, Buffer]> {
  const bytes = inflate(data);
  const items: Array<[string, Buffer]> = [];
  for (let at = 0; at < bytes.byteLength; ) {
    const typeLength = bytes.readUInt8(at);
    const type = bytes.toString("utf8", at + 1, at + 1 + typeLength);
    const length = bytes.readUInt32LE(at + 1 + typeLength);
    const start = at + 5 + typeLength;
    items.push([type, bytes.subarray(start, start + length)]);
    at = start + length;
  }
  return items;
}

/** A serialiser whose output is deflated when that makes it smaller, and which reads both kinds. */
export class DeflatingSerializer implements SerializerProtocol {
  constructor(private readonly inner: SerializerProtocol) {}

  async dumpsTyped(data: unknown): Promise<[string, Uint8Array]> {
    const [type, bytes] = await this.inner.dumpsTyped(data);
    return deflateTyped(type, bytes);
  }

  async loadsTyped(type: string, data: Uint8Array | string): Promise<unknown> {
    const [innerType, bytes] = inflateTyped(type, data);
    return this.inner.loadsTyped(innerType, bytes);
  }
}
