/**
 * A chat's title, written by the model after the first exchange: one short call with the user's
 * first message and the start of the reply, answered in a few tokens. Bookkeeping, not the
 * reply: tagged `nostream`, given no tools and none of the run's callbacks, so it never reaches a
 * client's stream nor the thread's state.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";

/** What the title model is asked to do; the stub model in tests recognises this text. */
export const TITLE_INSTRUCTIONS =
  "Write a title for the conversation below: at most six words, in the language the user wrote in, naming its subject. " +
  "Answer with the title only, without quotes or a final period.";

/** Longest answer asked for, in tokens: six words and some slack (the model's own max tokens when it cannot be set per call). */
export const TITLE_MAX_TOKENS = 24;

/** Longest title kept, in characters; a longer answer is cut at a word. */
export const TITLE_MAX_CHARACTERS = 80;

/** Characters of each message the title model reads: the subject is in the opening. */
const EXCHANGE_CHARACTERS = 1000;

/** The first exchange of a conversation: the user's first message and the reply to it, as text. */
export interface FirstExchange {
  user: string;
  assistant: string;
}

/**
 * The first exchange of `messages`: the first user message with text, and the first reply with
 * text after it; `undefined` when there is no such pair yet.
 */
export function firstExchange(messages: readonly BaseMessage[]): FirstExchange | undefined {
  const userIndex = messages.findIndex((message) => message.getType() === "human" && message.text.trim() !== "");
  if (userIndex === -1) return undefined;
  const reply = messages.slice(userIndex + 1).find((message) => message.getType() === "ai" && message.text.trim() !== "");
  return reply ? { user: messages[userIndex]!.text, assistant: reply.text } : undefined;
}

/** The request text: the exchange, each message cut to its opening. */
export function titleRequest(exchange: FirstExchange): string {
  const cut = (text: string) => (text.length > EXCHANGE_CHARACTERS ? `${text.slice(0, EXCHANGE_CHARACTERS)}…` : text);
  return `User: ${cut(exchange.user.trim())}\n\nAssistant: ${cut(exchange.assistant.trim())}`;
}

/**
 * A title from the model's answer: its first non-empty line without a "Title:" label, Markdown
 * emphasis or heading marks, surrounding quotes and final punctuation, at most
 * `TITLE_MAX_CHARACTERS` long (cut at a word); `undefined` when nothing is left.
 */
export function cleanTitle(answer: string): string | undefined {
  let title = answer.split("\n").map((line) => line.trim()).find((line) => line !== "") ?? "";
  title = title
    .replace(/^#+\s*/, "")
    .replace(/^(\*\*|__)?title(\*\*|__)?\s*:\s*/i, "")
    .replace(/^[*_`]+|[*_`]+$/g, "")
    .replace(/^["'“”‘’«»]+|["'“”‘’«»]+$/g, "")
    .replace(/[.。!！:;,]+$/, "")
    .replace(/\s+/g, " ")
    .trim();
  if (title.length > TITLE_MAX_CHARACTERS) {
    const cut = title.slice(0, TITLE_MAX_CHARACTERS);
    const space = cut.lastIndexOf(" ");
    title = `${(space > TITLE_MAX_CHARACTERS / 2 ? cut.slice(0, space) : cut).trim()}…`;
  }
  return title === "" ? undefined : title;
}

/** Asks `model` for a title of `exchange` (see the module comment); `undefined` when its answer holds none. */
export async function generateTitle(model: BaseChatModel, exchange: FirstExchange, options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
  const reply = await model.invoke([new SystemMessage(TITLE_INSTRUCTIONS), new HumanMessage(titleRequest(exchange))], {
    signal: options.signal,
    tags: ["nostream"],
    runName: "generate_title",
  });
  return cleanTitle(reply.text);
}
