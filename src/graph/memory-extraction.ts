/**
 * Memory extraction: one model call reads what the user said lately, beside the memories already
 * kept on the same subjects, and answers in plain JSON (no tool calling, so any chat model can
 * do it) which memories to write and which to delete. Cheap text tests decide first whether the
 * messages can hold anything worth a call at all.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import type { BaseStore } from "@langchain/langgraph-checkpoint";
import { type Memory, cleanMemoryKey, cleanMemoryText, memoryNamespace, searchMemories } from "./long-term-memory.js";
import { withDeadline } from "./deadline.js";

/** What the extraction model is asked to do; the stub model in tests recognises this text. */
export const MEMORY_EXTRACTION_INSTRUCTIONS =
  "You maintain long-term memories about a user: durable facts worth knowing in future conversations, such as their name, " +
  "preferences, goals, circumstances and standing instructions. Not: passing questions, small talk, or facts about other things. " +
  "Given the memories already kept (each with its key) and the user's latest messages, answer with JSON only, in this form: " +
  '{"upsert": [{"key": "name", "text": "The user\'s name is Ada."}], "delete": ["old_key"]}. ' +
  "Use short snake_case keys naming the subject. To change a fact (a correction or a change of mind), upsert it under its existing key; " +
  "never keep two versions of one fact. Delete what the user asks you to forget. Each text is one short sentence about the user. " +
  'When nothing is worth remembering, answer {"upsert": [], "delete": []}.';

/**
 * Messages that ask for memory work at once: explicit requests, and the commonest ways of
 * stating a fact about oneself that should not wait for a batch.
 */
const EXPLICIT = /\b(remember|forget|my name is|my name's|call me|i prefer|from now on|keep in mind|note that)\b/i;
/** Messages that may say something about the user; they are examined in batches. */
const PERSONAL = /\b(i am|i'm|i was|i have|i've|i like|i love|i hate|i enjoy|i prefer|i want|i work|i live|i use|i speak|my|mine|myself)\b/i;

/** How a user message counts for extraction: `explicit` starts one now, `personal` joins the batch, `none` is skipped. */
export type MessageRelevance = "explicit" | "personal" | "none";

/** Classifies one user message (see `MessageRelevance`). */
export function relevanceOf(text: string): MessageRelevance {
  if (EXPLICIT.test(text)) return "explicit";
  return PERSONAL.test(text) ? "personal" : "none";
}

/** What an extraction decided. */
export interface ExtractionResult {
  upserts: Memory[];
  deletions: string[];
}

/** Most memories one extraction may write or delete: a reply asking for more is not trusted past it. */
const MAX_CHANGES = 20;

/**
 * Reads the extraction model's answer. It may wrap the JSON in prose or a code fence; entries
 * that are not well-formed are skipped; an answer with no JSON object means no change.
 */
export function parseExtraction(answer: string): ExtractionResult {
  const empty: ExtractionResult = { upserts: [], deletions: [] };
  const start = answer.indexOf("{");
  const end = answer.lastIndexOf("}");
  if (start === -1 || end <= start) return empty;
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.slice(start, end + 1));
  } catch {
    return empty;
  }
  if (typeof parsed !== "object" || parsed === null) return empty;
  const { upsert, delete: deletions } = parsed as { upsert?: unknown; delete?: unknown };
  const upserts: Memory[] = [];
  for (const entry of Array.isArray(upsert) ? upsert : []) {
    if (typeof entry !== "object" || entry === null) continue;
    const { key, text } = entry as { key?: unknown; text?: unknown };
    if (typeof key !== "string" || typeof text !== "string") continue;
    const memory = { key: cleanMemoryKey(key), text: cleanMemoryText(text) };
    if (memory.key !== "" && memory.text !== "") upserts.push(memory);
  }
  const deleted = (Array.isArray(deletions) ? deletions : [])
    .map((entry: unknown) => (typeof entry === "string" ? entry : typeof entry === "object" && entry !== null ? (entry as { key?: unknown }).key : undefined))
    .filter((key): key is string => typeof key === "string")
    .map(cleanMemoryKey)
    .filter((key) => key !== "");
  return { upserts: upserts.slice(0, MAX_CHANGES), deletions: deleted.slice(0, MAX_CHANGES) };
}

/** The request text: the memories kept on these subjects, then the messages. */
export function extractionRequest(existing: readonly Memory[], messages: readonly string[]): string {
  const kept = existing.length === 0 ? "(none)" : JSON.stringify(existing.map(({ key, text }) => ({ key, text })));
  return `Memories kept:\n${kept}\n\nThe user's latest messages:\n${messages.map((message) => `- ${message}`).join("\n")}`;
}

/** What one extraction needs. */
export interface ExtractionJob {
  model: BaseChatModel;
  store: BaseStore;
  user: string;
  /** The user's messages to read, oldest first. */
  messages: readonly string[];
  /** Time the model call may take. */
  timeoutMs: number;
}

/** Longest user message given to the extractor, in characters; memories are short facts. */
const MAX_MESSAGE_CHARACTERS = 1500;
/** Memories given to the extractor: the ones most related to the messages. */
const EXISTING_SHOWN = 30;

/**
 * Runs one extraction: finds the memories related to the messages, asks the model, and applies
 * its answer (a key that exists is overwritten, so a fact is never kept twice). Returns what changed.
 */
export async function extractMemories(job: ExtractionJob): Promise<ExtractionResult> {
  const messages = job.messages.map((message) => message.slice(0, MAX_MESSAGE_CHARACTERS));
  const existing = await searchMemories(job.store, job.user, messages.join("\n"), EXISTING_SHOWN);
  const reply = await withDeadline(job.timeoutMs, undefined, (signal) =>
    job.model.invoke([new SystemMessage(MEMORY_EXTRACTION_INSTRUCTIONS), new HumanMessage(extractionRequest(existing, messages))], {
      signal,
      // Bookkeeping, not the reply: kept out of any token stream.
      tags: ["nostream"],
      runName: "extract_memories",
    }),
  );
  const result = parseExtraction(reply.text);
  const namespace = memoryNamespace(job.user);
  const known = new Map(existing.map((memory) => [memory.key, memory.text]));
  const upserts = result.upserts.filter((memory) => known.get(memory.key) !== memory.text);
  const written = new Set(upserts.map((memory) => memory.key));
  // A key both rewritten and deleted keeps the new text: the extractor replaced the fact.
  const deletions = [...new Set(result.deletions)].filter((key) => !written.has(key));
  for (const memory of upserts) await job.store.put(namespace, memory.key, { text: memory.text });
  for (const key of deletions) await job.store.delete(namespace, key);
  return { upserts, deletions };
}
