/**
 * What the terminal chat needs from wherever the conversation lives: the agent in this process
 * (`EmbeddedBackend`) or a LangGraph server (`RemoteBackend`). The chat itself only reads lines,
 * calls these and prints.
 */
import { NotFoundError } from "../errors.js";
import type { MemoryStoreAccess } from "./chat-memories.js";

/** Who said a message, as the chat labels it. */
export type ChatRole = "user" | "assistant" | "system" | "tool";

/** One message of a thread's history, reduced to what a terminal shows. */
export interface ChatMessage {
  role: ChatRole;
  text: string;
}

/** One line of `/threads`. */
export interface ThreadSummary {
  threadId: string;
  /** The thread's `metadata.title`, else its first user message, on one line. */
  title: string;
  /** When the thread last changed, when known. */
  updatedAt: Date | undefined;
}

/** One assistant, as the chat names and lists it. */
export interface AssistantSummary {
  assistantId: string;
  name: string;
  /** The version in use, which the next run takes. */
  version: number;
  /** The graph's own assistant, which every owner has. */
  system: boolean;
}

/** How a turn ended that did not fail: the whole reply, or stopped (Ctrl-C) after part of it. */
export type TurnEnd = "completed" | "stopped";

/** Options of one turn. */
export interface SendOptions {
  /** Aborting it abandons the turn at once (the chat is ending): the request is dropped. */
  signal?: AbortSignal;
  /**
   * Aborting it stops the reply (Ctrl-C): no more tokens are passed on, the run is cancelled as a
   * user's stop (`interrupt` on a server, an abort here), and `send` resolves with "stopped" once
   * the run has ended, so the next turn can start on the thread.
   */
  stop?: AbortSignal;
  /** The assistant whose settings the turn runs with; the graph's own when undefined. */
  assistantId?: string;
}

/** A conversation store and agent the chat can talk to. */
export interface ChatBackend {
  /** Where the conversation lives, for the chat's first line: a database or a server URL. */
  readonly description: string;
  /**
   * Sends `text` as the user's next message on `threadId` (creating the thread if it does not
   * exist) and calls `onToken` with each piece of the reply as it arrives. Rejects with an error
   * whose message says what failed, on one line; a failed turn leaves the thread as it was.
   * Aborting `signal` abandons the turn, aborting `stop` stops it (see `SendOptions`);
   * `assistantId` runs it through that assistant's version in use.
   */
  send(threadId: string, text: string, onToken: (token: string) => void, options?: SendOptions): Promise<TurnEnd>;
  /** The assistants the chat may use, the graph's own first, then by name. */
  assistants(): Promise<AssistantSummary[]>;
  /**
   * The assistant `idOrName` names: its id, the graph id `agent`, or its name in any case.
   * Rejects with `NotFoundError` when none (or several, by name) match.
   */
  findAssistant(idOrName: string): Promise<AssistantSummary>;
  /** The most recently active threads first, at most `limit`. */
  threads(options: { limit: number }): Promise<ThreadSummary[]>;
  /**
   * The ids of the threads that `idOrPrefix` names, for `/switch`: the thread with that id if it
   * exists, else those whose id starts with it among the `THREAD_SCAN_LIMIT` most recently
   * active; empty when none does.
   */
  findThreads(idOrPrefix: string): Promise<string[]>;
  /** The thread's messages, oldest first; empty for a thread that does not exist yet. */
  history(threadId: string): Promise<ChatMessage[]>;
  /** The Store that holds the agent's long-term memories, for `/memory`; failures reject with a one-line message. */
  readonly memoryStore: MemoryStoreAccess;
  /** Releases the database or connections; waits for a stopped turn to be undone first. */
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How many of the most recent threads `findThreads` looks through for an id prefix. */
export const THREAD_SCAN_LIMIT = 1000;

/** The ids among `threadIds` that start with `prefix` (ids compared in any case, as UUIDs are). */
export const idsStartingWith = (threadIds: readonly string[], prefix: string): string[] =>
  threadIds.filter((threadId) => threadId.toLowerCase().startsWith(prefix.toLowerCase()));

/** How many assistants the chat reads at most, to list or to find one by name. */
export const ASSISTANT_LIMIT = 1000;

/** Whether `idOrName` can only be an id: a UUID or the graph id, which stands for the graph's own assistant. */
export const isAssistantId = (idOrName: string, graphId: string): boolean => idOrName === graphId || UUID.test(idOrName);

/** Assistants ordered as the chat lists them: the graph's own first, then by name. */
export function sortAssistants(assistants: AssistantSummary[]): AssistantSummary[] {
  return [...assistants].sort((a, b) => Number(b.system) - Number(a.system) || a.name.localeCompare(b.name) || a.assistantId.localeCompare(b.assistantId));
}

/** The error for an id that names no assistant. */
export const unknownAssistant = (id: string): NotFoundError => new NotFoundError(`No assistant has the id or name ${JSON.stringify(id)}`);

/**
 * The one assistant of `candidates` called `name` (any case); throws `NotFoundError` when there is
 * none, or several (names need not be unique: then the id must be used).
 */
export function assistantNamed(name: string, candidates: AssistantSummary[]): AssistantSummary {
  const matches = candidates.filter((candidate) => candidate.name.toLowerCase() === name.toLowerCase());
  if (matches.length === 1) return matches[0] as AssistantSummary;
  if (matches.length === 0) throw unknownAssistant(name);
  throw new NotFoundError(`${matches.length} assistants are named ${JSON.stringify(name)} (${matches.map((match) => match.assistantId).join(", ")}): give its id`);
}

/** Whether a LangGraph server takes `threadId`: it only takes UUIDs; the graph itself takes any id. */
export const isServerThreadId = (threadId: string): boolean => UUID.test(threadId);

/** Longest title `/threads` shows, in characters. */
const TITLE_LENGTH = 60;

/** The text of a message's content: a string, or the text parts of a list of parts. */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: unknown) => (typeof part === "string" ? part : typeof (part as { text?: unknown })?.text === "string" ? (part as { text: string }).text : ""))
    .join("");
}

/** The chat's label for a LangChain message type (`human`, `ai`, `system`, `tool`, or a chunk's). */
export function roleOf(type: string): ChatRole {
  if (type === "human") return "user";
  if (type === "system") return "system";
  if (type === "tool") return "tool";
  return "assistant";
}

/** A thread's title: its metadata title when it has one, else its first user message, else a placeholder. */
export function titleOf(metadata: Record<string, unknown> | null | undefined, messages: readonly ChatMessage[]): string {
  const fromMetadata = metadata?.title;
  const text = typeof fromMetadata === "string" && fromMetadata.trim() !== "" ? fromMetadata : messages.find((message) => message.role === "user")?.text;
  const line = (text ?? "").replace(/\s+/g, " ").trim();
  if (line === "") return "(no messages)";
  return line.length > TITLE_LENGTH ? `${line.slice(0, TITLE_LENGTH - 1)}…` : line;
}

/**
 * Picks a reply's tokens out of a turn's stream of messages. One turn streams one reply; a
 * message with another id after it is that reply repeated whole, which the stream does when the
 * graph gave the reply a fresh id (some providers reuse ids), and is skipped.
 */
export class ReplyTokens {
  #replyId: string | undefined;
  #streamed = false;

  /** The text to print for a streamed AI message (chunk or whole), or `""` for nothing. */
  take(message: { id?: string; content?: unknown }): string {
    if (this.#streamed && message.id !== this.#replyId) return "";
    const text = textOf(message.content);
    if (text === "") return "";
    this.#streamed = true;
    this.#replyId = message.id;
    return text;
  }
}
