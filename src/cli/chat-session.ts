/**
 * The terminal chat's loop: reads lines one at a time (each turn ends before the next line is
 * read, even when a pipe delivers them all at once), sends messages, runs `/` commands.
 */
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { NotFoundError } from "../errors.js";
import type { AssistantSummary, ChatBackend, ThreadSummary } from "./chat-backend.js";
import { MEMORY_LIST_LIMIT, type MemorySummary, forgetAllMemories, forgetMemory, hasMemories, listMemories } from "./chat-memories.js";

/** How many threads `/threads` lists. */
const THREAD_LIST_LIMIT = 30;

/** Printed by `/help`. */
export const COMMANDS_HELP = `Commands:
  /new           start a new thread and print its id
  /threads       list threads, numbered, most recent first (* marks the current one)
  /history       print the current thread's messages
  /switch <number or id>
                 continue another thread: its number in /threads, or its id (the start of
                 it is enough when no other thread's id starts the same way)
  /assistants    list the assistants (* marks the one in use)
  /assistant <id or name>
                 talk through this assistant, in a new thread
  /memory        list what the agent remembers about you across threads, newest first
  /memory forget <key>
                 forget one memory (its key is the first column of /memory)
  /memory clear [--yes]
                 forget every memory (asks first, unless --yes)
  /help          show this help
  /exit          leave (so do Ctrl-D, and Ctrl-C at the prompt)
Ctrl-C while a reply is streaming stops it (what was printed is kept); a second Ctrl-C leaves.
Anything else is sent as a message; start it with // to send a message beginning with /.`;

/** What a session runs on and where it writes. */
export interface ChatSessionOptions {
  backend: ChatBackend;
  /** The thread to continue; undefined starts a new one. */
  threadId: string | undefined;
  /** The assistant turns run through (`--assistant`); undefined is the graph's own. */
  assistant?: AssistantSummary;
  input: Readable;
  /** Replies and command output. */
  output: Writable;
  /** One line per error. */
  errors: Writable;
  /** A person at a terminal: show a prompt and let readline edit lines. */
  interactive: boolean;
  /**
   * Called for Ctrl-C at the terminal (which readline catches before the process sees it); by
   * default `stopReply`, or else `stop`.
   */
  onInterrupt?: () => void;
}

/** The first line of an error's message: the chat prints one line per failure. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]?.trim() || "unknown error";
}

/** What `/memory` says when nothing is remembered. */
export const NO_MEMORIES = "Nothing is remembered yet. The agent keeps facts you tell it about yourself (your name, preferences, goals) and uses them in your other threads; LONG_TERM_MEMORY=off turns this off.";

/** The answers that confirm a question; anything else (an empty line too) declines. */
const YES = /^y(es)?$/i;

/** What ends a reply that Ctrl-C stopped. */
export const STOPPED_MARK = "(stopped)";

/** `Pirate (<id>, version 2)`. */
const describeAssistant = (assistant: AssistantSummary): string => `${assistant.name} (${assistant.assistantId}, version ${assistant.version})`;

/** `2025-01-31 14:05` in local time. */
function formatTime(date: Date | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return "                ";
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A turn in progress: `abandon` drops it (the chat is ending), `stop` stops its reply (Ctrl-C). */
interface Turn {
  abandon: AbortController;
  stop: AbortController;
}

/**
 * One conversation at a terminal (or a pipe). Call `run` once; `stopReply` stops the reply in
 * progress, `stop` ends the chat early.
 */
export class ChatSession {
  readonly #options: ChatSessionOptions;
  #threadId: string;
  /** The turn in progress, if any. */
  #turn: Turn | undefined;
  #stopping = false;
  /** How many messages failed (not stopped: failed), for the exit code of a chat on a pipe. */
  #failedTurns = 0;
  /** The thread ids of the last `/threads` listing, in its order: what `/switch <number>` means. */
  #listed: string[] | undefined;
  #readline: ReturnType<typeof createInterface> | undefined;

  /** The assistant turns run through now; undefined is the graph's own. */
  #assistant: AssistantSummary | undefined;

  /** What the next line answers, after a question such as `/memory clear`'s; it runs on "y"/"yes". */
  #confirming: (() => Promise<void>) | undefined;

  constructor(options: ChatSessionOptions) {
    this.#options = options;
    this.#assistant = options.assistant;
    this.#threadId = options.threadId ?? randomUUID();
  }

  /** The thread messages go to now. */
  get threadId(): string {
    return this.#threadId;
  }

  /** How many messages failed so far (a stopped reply is no failure). */
  get failedTurns(): number {
    return this.#failedTurns;
  }

  /** Reads and handles lines until `/exit`, the end of the input, or `stop`. */
  async run(): Promise<void> {
    const { input, output, interactive } = this.#options;
    const readline = createInterface({ input, output: interactive ? output : undefined, terminal: interactive, prompt: "> " });
    this.#readline = readline;
    // At a terminal Ctrl-C reaches readline, not the process: treat it like the signal.
    readline.on("SIGINT", () => (this.#options.onInterrupt ?? (() => this.stopReply() || this.stop()))());
    this.#print(
      this.#options.threadId === undefined
        ? `New thread ${this.#threadId} (continue it later with --thread ${this.#threadId}), on ${this.#options.backend.description}.`
        : `Thread ${this.#threadId}, on ${this.#options.backend.description}.`,
    );
    if (this.#assistant) this.#print(`Assistant ${describeAssistant(this.#assistant)}.`);
    if (interactive) this.#print("Type a message, or /help for commands.");
    try {
      if (interactive) readline.prompt();
      // The iterator buffers lines that arrive while a turn runs, so none is lost or overtaken.
      for await (const line of readline) {
        if (this.#stopping) break;
        const keepGoing = await this.#handle(line.trim());
        if (!keepGoing || this.#stopping) break;
        if (interactive) readline.prompt();
      }
    } finally {
      readline.close();
      // Ctrl-D leaves the cursor after the prompt; the shell's prompt belongs on a line of its own.
      if (interactive) output.write("\n");
    }
  }

  /**
   * What Ctrl-C does first: stops the reply being streamed, which ends with "(stopped)" and leaves
   * the chat at the prompt. False when there is none, or it is already stopping: then Ctrl-C ends
   * the chat instead (so pressing it twice always leaves).
   */
  stopReply(): boolean {
    const turn = this.#turn;
    if (!turn || this.#stopping || turn.stop.signal.aborted) return false;
    turn.stop.abort();
    return true;
  }

  /** Ends `run`: the turn in progress is abandoned (the server or the graph cancels its run). */
  stop(): void {
    this.#stopping = true;
    this.#turn?.abandon.abort();
    this.#readline?.close();
  }

  /** Handles one line; false when the chat should end. */
  async #handle(line: string): Promise<boolean> {
    const confirmed = this.#confirming;
    if (confirmed) {
      this.#confirming = undefined;
      if (!YES.test(line)) {
        this.#print("Nothing was forgotten.");
        return true;
      }
      await confirmed().catch((error: unknown) => this.#fail(describeError(error)));
      return true;
    }
    if (line === "") return true;
    if (line.startsWith("//")) {
      await this.#send(line.slice(1));
      return true;
    }
    if (!line.startsWith("/")) {
      await this.#send(line);
      return true;
    }
    const [command = "", ...rest] = line.split(/\s+/);
    const argument = rest.join(" ");
    try {
      switch (command) {
        case "/exit":
        case "/quit":
          return false;
        case "/help":
          this.#print(COMMANDS_HELP);
          return true;
        case "/new":
          this.#threadId = randomUUID();
          this.#print(`New thread ${this.#threadId}`);
          return true;
        case "/switch":
          await this.#switch(argument);
          return true;
        case "/threads":
          this.#printThreads(await this.#threadRows());
          return true;
        case "/history":
          await this.#printHistory();
          return true;
        case "/assistants":
          this.#printAssistants(await this.#options.backend.assistants());
          return true;
        case "/assistant":
          await this.#useAssistant(argument);
          return true;
        case "/memory":
          await this.#memory(rest);
          return true;
        default:
          this.#fail(`Unknown command ${command}; /help lists the commands`);
          return true;
      }
    } catch (error) {
      const hint = command === "/assistant" ? "; /assistants lists them" : command === "/memory" ? "; /memory lists them" : "";
      this.#fail(error instanceof NotFoundError ? `${describeError(error)}${hint}` : describeError(error));
      return true;
    }
  }

  async #send(text: string): Promise<void> {
    const { backend, output } = this.#options;
    const turn: Turn = { abandon: new AbortController(), stop: new AbortController() };
    this.#turn = turn;
    let printed = "";
    try {
      const end = await backend.send(
        this.#threadId,
        text,
        (token) => {
          printed += token;
          output.write(token);
        },
        { signal: turn.abandon.signal, stop: turn.stop.signal, assistantId: this.#assistant?.assistantId },
      );
      if (end === "stopped" && !turn.abandon.signal.aborted) output.write(`${printed === "" || /\s$/.test(printed) ? "" : " "}${STOPPED_MARK}\n`);
      else output.write("\n");
    } catch (error) {
      // The reply may have been cut mid-line; the error goes on a line of its own.
      if (printed !== "") output.write("\n");
      if (!turn.abandon.signal.aborted) {
        this.#failedTurns += 1;
        this.#fail(describeError(error));
      }
    } finally {
      this.#turn = undefined;
    }
  }

  /** `/switch <number or id>`: a row of the last `/threads`, or a thread that exists, by its id or the start of it. */
  async #switch(argument: string): Promise<void> {
    if (argument === "") return this.#fail("Usage: /switch <number from /threads, or thread id>");
    let rows: string[] | undefined;
    if (/^\d+$/.test(argument)) {
      // Numbers are those of the listing shown; before any, of the one /threads would show.
      rows = this.#listed ?? (await this.#threadRows()).map((row) => row.threadId);
      const chosen = rows[Number(argument) - 1];
      if (chosen !== undefined) return this.#switchTo(chosen);
      // Not a row: digits may also begin an id.
    }
    if (argument === this.#threadId) return this.#switchTo(argument);
    const matches = await this.#options.backend.findThreads(argument);
    if (matches.length === 1) return this.#switchTo(matches[0] as string);
    if (matches.length > 1) {
      const shown = matches.slice(0, 3).join(", ");
      return this.#fail(`${matches.length} threads have an id starting with ${JSON.stringify(argument)} (${shown}${matches.length > 3 ? ", ..." : ""}): give more of it`);
    }
    const numbered = rows ? `; /threads numbers ${rows.length === 1 ? "one thread" : `${rows.length} threads`}` : "; /threads lists them";
    const which = rows ? `numbered ${argument} or with an id starting with ${JSON.stringify(argument)}` : `with an id starting with ${JSON.stringify(argument)}`;
    this.#fail(`No thread found ${which}${numbered}`);
  }

  #switchTo(threadId: string): void {
    this.#threadId = threadId;
    this.#print(`Thread ${threadId}`);
  }

  /** Switches to the assistant `idOrName` names, from a new thread on (a thread keeps the assistant it was made with). */
  async #useAssistant(idOrName: string): Promise<void> {
    if (idOrName === "") return this.#fail("Usage: /assistant <id or name>");
    this.#assistant = await this.#options.backend.findAssistant(idOrName);
    this.#threadId = randomUUID();
    this.#print(`Assistant ${describeAssistant(this.#assistant)}; new thread ${this.#threadId}`);
  }

  /** `/memory`, `/memory forget <key>`, `/memory clear [--yes]`. */
  async #memory(words: string[]): Promise<void> {
    const store = this.#options.backend.memoryStore;
    const [action, ...rest] = words;
    if (action === undefined) return this.#printMemories(await listMemories(store, MEMORY_LIST_LIMIT));
    if (action === "forget" && rest.length === 1) {
      const key = rest[0] as string;
      const forgotten = await forgetMemory(store, key);
      return this.#print(forgotten === 1 ? `Forgot ${key}.` : `Forgot ${key} (${forgotten} users had it).`);
    }
    if (action === "clear" && (rest.length === 0 || (rest.length === 1 && rest[0] === "--yes"))) {
      if (!(await hasMemories(store))) return this.#print("Nothing is remembered.");
      const clear = async () => {
        const forgotten = await forgetAllMemories(store);
        this.#print(`Forgot ${forgotten} ${forgotten === 1 ? "memory" : "memories"}.`);
      };
      if (rest[0] === "--yes") return clear();
      this.#confirming = clear;
      return this.#print("Forget everything the agent remembers about you? This cannot be undone. [y/N]");
    }
    this.#fail("Usage: /memory, /memory forget <key>, /memory clear [--yes]");
  }

  #printMemories(memories: MemorySummary[]): void {
    if (memories.length === 0) return this.#print(NO_MEMORIES);
    // Memories of several users (a `user_id` given by clients) say whose they are.
    const severalUsers = new Set(memories.map((memory) => memory.user)).size > 1;
    const width = Math.max(...memories.map((memory) => memory.key.length));
    const lines = memories.map((memory) => `  ${memory.key.padEnd(width)}  ${formatTime(memory.updatedAt)}  ${memory.text.replace(/\s+/g, " ")}${severalUsers ? `  (${memory.user})` : ""}`);
    if (memories.length >= MEMORY_LIST_LIMIT) lines.push(`(the newest ${MEMORY_LIST_LIMIT} are shown)`);
    this.#print(lines.join("\n"));
  }

  #printAssistants(assistants: AssistantSummary[]): void {
    const current = (assistant: AssistantSummary) => (this.#assistant ? assistant.assistantId === this.#assistant.assistantId : assistant.system);
    this.#print(assistants.map((assistant) => `${current(assistant) ? "*" : " "} ${assistant.assistantId}  v${assistant.version}  ${assistant.name}${assistant.system ? " (the graph's own)" : ""}`).join("\n"));
  }

  /** What `/threads` lists: the most recent threads, and the current one first if it has no messages yet. */
  async #threadRows(): Promise<ThreadSummary[]> {
    const threads = await this.#options.backend.threads({ limit: THREAD_LIST_LIMIT });
    // The current thread has no messages yet (new, or named with --thread): list it anyway.
    if (threads.some((thread) => thread.threadId === this.#threadId)) return threads;
    return [{ threadId: this.#threadId, title: "(new, no messages yet)", updatedAt: undefined }, ...threads];
  }

  #printThreads(threads: ThreadSummary[]): void {
    this.#listed = threads.map((thread) => thread.threadId);
    const width = String(threads.length).length;
    this.#print(
      threads.map((thread, index) => `${thread.threadId === this.#threadId ? "*" : " "} ${`${index + 1}.`.padStart(width + 1)} ${thread.threadId}  ${formatTime(thread.updatedAt)}  ${thread.title}`).join("\n"),
    );
  }

  async #printHistory(): Promise<void> {
    const messages = await this.#options.backend.history(this.#threadId);
    if (messages.length === 0) return this.#print("(no messages yet)");
    this.#print(messages.map((message) => `${message.role === "user" ? "you" : message.role}: ${message.text}`).join("\n"));
  }

  #print(text: string): void {
    this.#options.output.write(`${text}\n`);
  }

  #fail(message: string): void {
    this.#options.errors.write(`error: ${message}\n`);
  }
}
