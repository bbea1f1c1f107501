/**
 * The terminal chat as a command: reads the command line, opens the backend it names, runs the
 * chat on the streams it is given and resolves with the exit code. `chat.ts` runs it on the
 * process's own streams and signals; tests run it on theirs, in their own process.
 */
import type { EventEmitter } from "node:events";
import type { Readable, Writable } from "node:stream";
import type { Config } from "../config.js";
import { NotFoundError, UsageError } from "../errors.js";
import { type ChatArguments, USAGE, parseChatArguments } from "./chat-arguments.js";
import type { AssistantSummary, ChatBackend } from "./chat-backend.js";
import type { ChatSession } from "./chat-session.js";
// The agent, LangChain and the SDK are loaded only once the command line is known to be good:
// `--help` and a usage error answer at once instead of after a second of imports.

/** Exit code after `/exit` or the end of the input. */
export const EXIT_OK = 0;
/**
 * Exit code when the database cannot be opened or the server (`--url`) does not answer, and,
 * reading a pipe, after a message failed.
 */
export const EXIT_FAILED = 1;
/** Exit code for a bad command line (an unknown `--assistant` too). */
export const EXIT_USAGE = 2;
/** Exit code after an interrupt, as shells report a process ended by SIGINT. */
export const EXIT_INTERRUPTED = 130;

/** Where the chat reads and writes, and what it is told from outside. */
export interface ChatCommandOptions {
  /** The command line, without node and the script. */
  argv: readonly string[];
  /** Reads the configuration of the agent in this process; not called with `--url`. */
  loadConfig: () => Config;
  input: Readable;
  /** Replies, command output, the usage for `--help`. */
  output: Writable;
  /** Errors, warnings, the usage after a bad command line. */
  errors: Writable;
  /** A person at a terminal: show a prompt and let readline edit lines. */
  interactive: boolean;
  /**
   * Aborting it ends the chat (what SIGTERM does): the turn in progress is abandoned, the
   * database closed, and the exit code is 130. Aborted before the chat starts, the chat does not start.
   */
  signal?: AbortSignal;
  /**
   * Emits "interrupt" for each Ctrl-C that reaches the process as SIGINT (one at the terminal
   * reaches readline instead, which the chat handles the same way): the first stops the reply
   * being streamed, if any; otherwise, or a second time, the chat ends with exit code 130.
   */
  interrupts?: EventEmitter;
  /**
   * Called with 130 for a Ctrl-C that comes while the chat is already ending (closing the
   * database, which may wait on a run): the process should exit at once. Nothing by default.
   */
  exitNow?: (code: number) => void;
}

/**
 * Runs the chat to its end and resolves with the exit code: 0 after `/exit` or the end of the
 * input, 1 when the database cannot be opened or the server does not answer (and, when the chat
 * is not interactive, when a message failed), 2 for a bad command line or an unknown
 * `--assistant`, 130 after an interrupt. The database is closed in every case.
 */
export async function runChatCommand(options: ChatCommandOptions): Promise<number> {
  // Ctrl-C stops the reply being streamed; otherwise (at the prompt, a second time, or while the
  // chat loads or connects) it ends the chat, and once the chat is ending, the process.
  let session: ChatSession | undefined;
  let interrupted = false;
  const end = () => {
    if (interrupted) return options.exitNow?.(EXIT_INTERRUPTED);
    interrupted = true;
    session?.stop();
  };
  const ctrlC = () => {
    if (!interrupted && session?.stopReply()) return;
    end();
  };
  options.interrupts?.on("interrupt", ctrlC);
  options.signal?.addEventListener("abort", end, { once: true });
  if (options.signal?.aborted) interrupted = true;
  try {
    return await runChat(options, {
      interrupted: () => interrupted,
      ctrlC,
      started: (started) => (session = started),
    });
  } finally {
    options.interrupts?.off("interrupt", ctrlC);
    options.signal?.removeEventListener("abort", end);
  }
}

/** The chat, once `runChatCommand` has set up how interrupts reach it. */
async function runChat(
  options: ChatCommandOptions,
  control: { interrupted: () => boolean; ctrlC: () => void; started: (session: ChatSession) => void },
): Promise<number> {
  let chatArguments: ChatArguments;
  try {
    chatArguments = parseChatArguments([...options.argv]);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    options.errors.write(`${error.message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (chatArguments.help) {
    options.output.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  const backend = await openBackend(chatArguments, options);
  if (!backend) return EXIT_FAILED;
  const { ChatSession: Session, describeError } = await import("./chat-session.js");
  let assistant: AssistantSummary | undefined;
  if (chatArguments.assistant !== undefined) {
    try {
      assistant = await backend.findAssistant(chatArguments.assistant);
    } catch (error) {
      await backend.close();
      options.errors.write(`--assistant: ${describeError(error)}\n`);
      return error instanceof NotFoundError ? EXIT_USAGE : EXIT_FAILED;
    }
  }
  const session = new Session({
    backend,
    threadId: chatArguments.threadId,
    assistant,
    input: options.input,
    output: options.output,
    errors: options.errors,
    interactive: options.interactive,
    onInterrupt: control.ctrlC,
  });
  control.started(session);
  try {
    if (!control.interrupted()) await session.run();
  } finally {
    // Closing folds SQLite's WAL back into the database file, so nothing is left dangling.
    await backend.close();
  }
  if (control.interrupted()) return EXIT_INTERRUPTED;
  // A script piping messages in learns that one failed (the error said which).
  return !options.interactive && session.failedTurns > 0 ? EXIT_FAILED : EXIT_OK;
}

/** The backend the arguments ask for; undefined (the reason written) when the agent in this process cannot be set up. */
async function openBackend(chatArguments: ChatArguments, options: ChatCommandOptions): Promise<ChatBackend | undefined> {
  if (chatArguments.url !== undefined) {
    const [{ RemoteBackend }, { describeError }] = await Promise.all([import("./remote-backend.js"), import("./chat-session.js")]);
    const backend = new RemoteBackend({ url: chatArguments.url, apiKey: chatArguments.apiKey });
    try {
      // Said now, rather than after "New thread …" and on every message.
      await backend.reachable();
    } catch (error) {
      options.errors.write(`${describeError(error)}\n`);
      return undefined;
    }
    return backend;
  }
  const config = options.loadConfig();
  const [{ createAgentFromConfig }, { MODEL_NOT_CONFIGURED_MESSAGE }, { EmbeddedBackend }, { describeError }] = await Promise.all([
    import("../composition/agent-from-config.js"),
    import("../graph/model-node.js"),
    import("./embedded-backend.js"),
    import("./chat-session.js"),
  ]);
  const configured = createAgentFromConfig(config);
  // The password of DATABASE_URL stays out of the greeting.
  const description = config.DATABASE_URL ? `PostgreSQL (DATABASE_URL, schema ${config.DATABASE_SCHEMA})` : `the SQLite database in ${config.DATA_DIR}`;
  try {
    const backend = await EmbeddedBackend.open(configured, description);
    if (!configured.hasModel) options.errors.write(`warning: ${MODEL_NOT_CONFIGURED_MESSAGE}; messages will fail until then.\n`);
    return backend;
  } catch (error) {
    options.errors.write(`Cannot open ${description}: ${describeError(error)}\n`);
    await configured.storage.close().catch(() => undefined);
    return undefined;
  }
}
