/**
 * What thread search by text (`query` of POST /threads/search) reads: the text of the user's and
 * the assistant's messages, lowercased, kept by the checkpointer beside its message log (table
 * `agent_message_text`, a row per message that has text, written in the same transaction as the
 * message and removed with it: reverted runs, deleted threads). Tool results, system messages and
 * tool calls are not "what was said" and are left out. Both sides of a match are lowercased here,
 * in JavaScript, so the backends compare the same strings (`toLowerCase`, Unicode-aware).
 */
import type { BaseMessage } from "@langchain/core/messages";

/** Longest query text, in characters. */
export const MAX_QUERY_CHARACTERS = 1000;

/** The text of `message` as search matches it, or `undefined` when it is not searched (see the module comment). */
export function searchableText(message: BaseMessage): string | undefined {
  const type = message.getType();
  if (type !== "human" && type !== "ai") return undefined;
  const text = message.text;
  return text.trim() === "" ? undefined : text.toLowerCase();
}

/** A query as it is matched: lowercased, surrounding spaces dropped; `undefined` when nothing is left (no filter). */
export function searchNeedle(query: string | undefined): string | undefined {
  const needle = query?.trim().toLowerCase();
  return needle === undefined || needle === "" ? undefined : needle;
}
