import { createRequire } from "node:module";
import type { BaseMessage } from "@langchain/core/messages";
import { Tiktoken, type TiktokenBPE } from "js-tiktoken/lite";

/** The two encodings current OpenAI-compatible chat models use. */
export type EncodingName = "o200k_base" | "cl100k_base";

/**
 * Counts what a chat request costs in prompt tokens, the way OpenAI documents it:
 * every message costs its content plus a fixed overhead, and the reply is primed with 3 more.
 */
export interface TokenCounter {
  readonly encoding: EncodingName;
  /** Tokens of a bare string, no message overhead. */
  countText(text: string): number;
  /** Tokens one message adds to a request, overhead included. */
  countMessage(message: BaseMessage): number;
  /**
   * A bound `countMessage` never exceeds, from byte lengths alone (a byte-level BPE token is at
   * least one byte): enough to tell that messages fit without tokenising them.
   */
  countMessageAtMost(message: BaseMessage): number;
  /**
   * `countMessage` when that is at most `limit`; otherwise a number above `limit`, found without
   * tokenising much more of the message than `limit` tokens' worth: a message of a megabyte
   * needs no exact count to be refused, and an exact one would hold the event loop for seconds.
   */
  countMessageWithin(message: BaseMessage, limit: number): number;
  /** The longest start of `text` that is at most `tokens` tokens. */
  truncate(text: string, tokens: number): string;
}

/**
 * Per-message overhead for current chat models (OpenAI cookbook, "How to count tokens with
 * tiktoken"): `<|start|>{role}<|message|>…<|end|>` costs 3 tokens plus the role; a `name` adds 1.
 */
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
export const REPLY_PRIMING_TOKENS = 3;
/** A low-detail image costs a flat 85 tokens; we assume that for every image part. */
const TOKENS_PER_IMAGE = 85;
/** Wrapping of one function call (`{"id","type","function":{…}}`), estimated on the high side. */
const TOKENS_PER_TOOL_CALL = 8;

/**
 * Budgets' worth of tokens that the run checks and the trim node count exactly: enough to say by
 * how much a message must shrink; past it a count only says the message is larger (see
 * `countMessageWithin`).
 */
export const COUNTED_EXACTLY = 2;

/** `tokens` as an error message states them: exactly, or as "more than" what is counted exactly under `budget`. */
export function tokensNeeded(tokens: number, budget: number): string {
  return tokens > COUNTED_EXACTLY * budget ? `more than ${COUNTED_EXACTLY * budget}` : String(tokens);
}

/** o200k_base for the gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and o-series families; cl100k_base otherwise. */
export function encodingForModel(model: string): EncodingName {
  const name = model.toLowerCase().split("/").pop() ?? "";
  return /^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d)/.test(name) ? "o200k_base" : "cl100k_base";
}

// The ranks ship inside js-tiktoken; loading them synchronously on first use keeps start-up
// cheap and never touches the network (unlike @langchain/core's helper, which fetches them).
const require = createRequire(import.meta.url);
const encoders = new Map<EncodingName, Tiktoken>();

function encoderFor(encoding: EncodingName): Tiktoken {
  let encoder = encoders.get(encoding);
  if (!encoder) {
    const ranks = require(`js-tiktoken/ranks/${encoding}`) as TiktokenBPE | { default: TiktokenBPE };
    encoder = new Tiktoken("default" in ranks ? ranks.default : ranks);
    encoders.set(encoding, encoder);
  }
  return encoder;
}

/**
 * Longest run of one kind of character (letters, spaces, or other symbols) tokenised whole.
 * js-tiktoken's byte-pair merge is quadratic in the length of a piece of the encoding's split
 * pattern, and a piece is a run of one kind: 3,200 letters without a space took half a second,
 * 10,000 took five, and a message of 1 MB would have taken hours, on the event loop that every
 * request shares. Longer runs are tokenised in chunks of this many characters: real words and
 * sentences are shorter, and a chunk's edge, which no merge crosses, adds a token at most.
 */
const LONGEST_RUN = 32;
/** A run longer than `LONGEST_RUN` of letters (with their marks), of spaces, or of other symbols; digits split every 3 anyway. */
const LONG_RUN = new RegExp(`[\\p{L}\\p{M}]{${LONGEST_RUN + 1},}|\\s{${LONGEST_RUN + 1},}|[^\\s\\p{L}\\p{M}\\p{N}]{${LONGEST_RUN + 1},}`, "gu");
/**
 * Most characters of text between long runs tokenised at once: a count that needs only to pass a
 * limit, or `truncate`, stops soon after the tokens it needs. The cut goes before a run of
 * whitespace that follows other text, where the split pattern always starts a new piece, so the
 * count is the same as that of the text whole; only text with no such place is cut anywhere.
 */
const PART_STEP = 1024;

/** Where to cut `text` near `at` without splitting a surrogate pair (an emoji, say). */
function cutAt(text: string, at: number): number {
  const code = text.charCodeAt(at);
  return code >= 0xdc00 && code <= 0xdfff ? at + 1 : at;
}

/**
 * `text` in the order written, as parts that each tokenise in time linear in their length and
 * join back to `text`: long runs (`LONG_RUN`) cut every `LONGEST_RUN` characters, the text
 * between them every `PART_STEP`.
 */
function* partsOf(text: string): Generator<string> {
  let at = 0;
  const between = function* (end: number): Generator<string> {
    while (end - at > PART_STEP) {
      let space = text.lastIndexOf(" ", at + PART_STEP);
      while (space > at && /\s/.test(text.charAt(space - 1))) space = text.lastIndexOf(" ", space - 1);
      const cut = cutAt(text, space > at ? space : at + PART_STEP);
      yield text.slice(at, cut);
      at = cut;
    }
    if (end > at) yield text.slice(at, end);
    at = end;
  };
  for (const match of text.matchAll(LONG_RUN)) {
    yield* between(match.index);
    const end = match.index + match[0].length;
    while (at < end) {
      const cut = Math.min(end, cutAt(text, at + LONGEST_RUN));
      yield text.slice(at, cut);
      at = cut;
    }
  }
  yield* between(text.length);
}

const ROLE_BY_TYPE: Record<string, string> = {
  human: "user",
  ai: "assistant",
  system: "system",
  developer: "developer",
  tool: "tool",
  function: "function",
};

/** The OpenAI role a LangChain message is sent with. */
export function roleOf(message: BaseMessage): string {
  const type = message.getType();
  if (type === "generic") return (message as BaseMessage & { role?: string }).role ?? "user";
  return ROLE_BY_TYPE[type] ?? type;
}

/** What of a message is tokenised: its text, and the parts that are not plain text. */
function textParts(message: BaseMessage): { text: string; images: number } {
  const { content } = message;
  if (typeof content === "string") return { text: content, images: 0 };
  let text = "";
  let images = 0;
  for (const part of content) {
    if (typeof part === "string") text += part;
    else if (part.type === "text" && typeof part.text === "string") text += part.text;
    else if (part.type === "image_url" || part.type === "image") images += 1;
    else text += JSON.stringify(part);
  }
  return { text, images };
}

/**
 * Tokens `message` adds to a request, its texts measured by `length`: their token counts, or
 * their UTF-8 byte lengths for a bound the count never exceeds.
 */
function measure(message: BaseMessage, length: (text: string) => number, roleLength = length): number {
  const { text, images } = textParts(message);
  let tokens = TOKENS_PER_MESSAGE + roleLength(roleOf(message)) + length(text) + images * TOKENS_PER_IMAGE;
  if (message.name) tokens += TOKENS_PER_NAME + length(message.name);
  if ("tool_calls" in message && Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls as { id?: string; name: string; args: unknown }[]) {
      tokens += TOKENS_PER_TOOL_CALL + length(call.name) + length(JSON.stringify(call.args ?? {}));
      if (call.id) tokens += length(call.id);
    }
  }
  if ("tool_call_id" in message && typeof message.tool_call_id === "string") tokens += length(message.tool_call_id);
  return tokens;
}

/** Longest text whose count `countText` keeps, in characters; how many it keeps. */
const TEXT_CACHE_CHARACTERS = 20_000;
const TEXT_CACHE_LIMIT = 64;

/** A cache entry stays valid only while the message's content is the same. */
interface CachedCount {
  /** For the id cache, role, name, content and tool calls as text; for the object cache, the content itself. */
  signature: unknown;
  tokens: number;
}
// Each entry holds a copy of its message's text (the signature): 50,000 of them were tens of
// megabytes on a busy server. Messages read from the checkpointer's cache are the same objects
// turn after turn and hit the WeakMap below; this one catches the rest.
const CACHE_LIMIT = 10_000;

function signatureOf(message: BaseMessage): string {
  const content = typeof message.content === "string" ? message.content : JSON.stringify(message.content);
  const toolCalls = "tool_calls" in message && Array.isArray(message.tool_calls) ? JSON.stringify(message.tool_calls) : "";
  return `${roleOf(message)}\u0000${message.name ?? ""}\u0000${content}\u0000${toolCalls}`;
}

/**
 * Builds a counter for `model`'s encoding. Counts of messages that have an id are cached, so
 * counting a long history again on the next turn costs a lookup per message, not a tokenisation.
 */
export function createTokenCounter(model: string): TokenCounter {
  const encoding = encodingForModel(model);
  const encoder = encoderFor(encoding);
  const cache = new Map<string, CachedCount>();
  // Messages loaded from a checkpoint are shared objects across turns: counting one again is a
  // WeakMap lookup. The id-keyed cache catches equal messages that arrive as new objects.
  const byObject = new WeakMap<BaseMessage, CachedCount & { toolCalls: unknown }>();
  const toolCallsOf = (message: BaseMessage): unknown => (message as { tool_calls?: unknown }).tool_calls;
  /** Tokens of `text`; with a `limit`, once past it a number above it, the rest left untokenised. */
  const encodedLength = (text: string, limit = Infinity): number => {
    if (text.length <= LONGEST_RUN) return text.length === 0 ? 0 : encoder.encode(text).length;
    let tokens = 0;
    for (const part of partsOf(text)) {
      tokens += encoder.encode(part).length;
      if (tokens > limit) return tokens;
    }
    return tokens;
  };
  // The same few texts are counted on every turn (the system prompt, the memory heading): a
  // lookup instead of a tokenisation. Message texts go through `tokenize`, which the caches
  // below cover, so this one stays small.
  const texts = new Map<string, number>();
  const countText = (text: string): number => {
    if (text.length > TEXT_CACHE_CHARACTERS) return encodedLength(text);
    let tokens = texts.get(text);
    if (tokens === undefined) {
      tokens = encodedLength(text);
      if (texts.size >= TEXT_CACHE_LIMIT) texts.delete(texts.keys().next().value as string);
      texts.set(text, tokens);
    }
    return tokens;
  };

  const tokenize = (message: BaseMessage): number => measure(message, encodedLength, countText);
  const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8");

  /** The count of this very object, unless it was changed in place since it was counted. */
  const countedBefore = (message: BaseMessage): number | undefined => {
    const known = byObject.get(message);
    return known && known.signature === message.content && known.toolCalls === toolCallsOf(message) ? known.tokens : undefined;
  };

  const countById = (message: BaseMessage): number => {
    if (!message.id) return tokenize(message);
    const signature = signatureOf(message);
    const cached = cache.get(message.id);
    if (cached?.signature === signature) return cached.tokens;
    const tokens = tokenize(message);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(message.id, { signature, tokens });
    return tokens;
  };

  const countMessage = (message: BaseMessage): number => {
    const known = countedBefore(message);
    if (known !== undefined) return known;
    const tokens = countById(message);
    byObject.set(message, { signature: message.content, toolCalls: toolCallsOf(message), tokens });
    return tokens;
  };

  return {
    encoding,
    countText,
    truncate(text, tokens) {
      const limit = Math.max(0, tokens);
      const kept: number[] = [];
      for (const part of partsOf(text)) {
        for (const token of encoder.encode(part)) {
          if (kept.length === limit) return encoder.decode(kept);
          kept.push(token);
        }
      }
      return text;
    },
    countMessage,
    countMessageAtMost(message) {
      return countedBefore(message) ?? measure(message, utf8Bytes);
    },
    countMessageWithin(message, limit) {
      const known = countedBefore(message);
      if (known !== undefined) return known;
      // Few enough bytes: the exact count costs little, and is kept for the trim node.
      if (measure(message, utf8Bytes) <= limit) return countMessage(message);
      return measure(message, (text) => encodedLength(text, limit), countText);
    },
  };
}
