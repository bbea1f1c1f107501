/**
 * The terminal chat as a command: reads the command line, opens the backend it names, runs the
 * chat on the streams it is given and resolves with the exit code. `chat.ts` runs it on the
 * process's own streams and signals; tests run it on theirs, in their own process.
 */
import type { Readable, Writable } from "node:stream";
import type { Config } from "../config.js";
import { NotFoundError, UsageError } from "../errors.js";
import { type ChatArguments, USAGE, parseChatArguments } from "./chat-arguments.js";
import type { AssistantSummary, ChatBackend } from "./chat-backend.js";
// The agent, LangChain and the SDK are loaded only once the command line is known to be good:
// `--help` and a usage error answer at once instead of after a second of imports.

/** Exit code after `/exit` or the end of the input. */
export const EXIT_OK = 0;
/** Exit code when the database cannot be opened. */
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
   * Aborting it interrupts the chat (what Ctrl-C does): the turn in progress is undone, the
   * database closed, and the exit code is 130. Aborted before the chat starts, the chat does not start.
   */
  signal?: AbortSignal;
  /** Called for Ctrl-C at the terminal (which readline catches before the process sees it); interrupts by default. */
  onInterrupt?: () => void;
}

/**
 * Runs the chat to its end and resolves with the exit code: 0 after `/exit` or the end of the
 * input, 1 when the database cannot be opened (or the server not reached to find `--assistant`),
 * 2 for a bad command line or an unknown `--assistant`, 130 after an interrupt.
 * The database is closed in every case.
 */
export async function runChatCommand(options: ChatCommandOptions): Promise<number> {
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
  const { ChatSession, describeError } = await import("./chat-session.js");
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
  const { signal } = options;
  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
    session.stop();
  };
  const session = new ChatSession({
    backend,
    threadId: chatArguments.threadId,
    assistant,
    remote: chatArguments.url !== undefined,
    input: options.input,
    output: options.output,
    errors: options.errors,
    interactive: options.interactive,
    onInterrupt: options.onInterrupt ?? interrupt,
  });
  signal?.addEventListener("abort", interrupt, { once: true });
  try {
    if (signal?.aborted) interrupted = true;
    else await session.run();
  } finally {
    signal?.removeEventListener("abort", interrupt);
    // Closing folds SQLite's WAL back into the database file, so nothing is left dangling.
    await backend.close();
  }
  return interrupted ? EXIT_INTERRUPTED : EXIT_OK;
}

/** The backend the arguments ask for; undefined (the reason written) when the agent in this process cannot be set up. */
async function openBackend(chatArguments: ChatArguments, options: ChatCommandOptions): Promise<ChatBackend | undefined> {
  if (chatArguments.url !== undefined) {
    const { RemoteBackend } = await import("./remote-backend.js");
    return new RemoteBackend({ url: chatArguments.url, apiKey: chatArguments.apiKey });
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
