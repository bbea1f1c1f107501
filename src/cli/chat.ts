/**
 * `npm run chat`: a terminal chat with the agent, on the agent in this process (the database in
 * `DATA_DIR` or `DATABASE_URL`, as the server's) or on a server (`--url`). Exit codes: 0 after
 * `/exit` or the end of the input, 1 when the environment or the database is unusable, 2 for a
 * bad command line, 130 after Ctrl-C / SIGINT (the database is closed in every case).
 */
import { loadConfigOrExit } from "../config.js";
import { UsageError } from "../errors.js";
import { type ChatArguments, USAGE, parseChatArguments } from "./chat-arguments.js";
import type { ChatBackend } from "./chat-backend.js";
// The agent, LangChain and the SDK are loaded only once the command line is known to be good:
// `--help` and a usage error answer at once instead of after a second of imports.

/** Exit code after an interrupt, as shells report a process ended by SIGINT. */
const INTERRUPTED = 130;

/** The backend the arguments ask for; exits 1 when the agent in this process cannot be set up. */
async function openBackend(chatArguments: ChatArguments): Promise<ChatBackend> {
  if (chatArguments.url !== undefined) {
    const { RemoteBackend } = await import("./remote-backend.js");
    return new RemoteBackend({ url: chatArguments.url, apiKey: chatArguments.apiKey });
  }
  const config = loadConfigOrExit();
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
    if (!configured.hasModel) console.error(`warning: ${MODEL_NOT_CONFIGURED_MESSAGE}; messages will fail until then.`);
    return backend;
  } catch (error) {
    console.error(`Cannot open ${description}: ${describeError(error)}`);
    await configured.storage.close().catch(() => undefined);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  let chatArguments: ChatArguments;
  try {
    chatArguments = parseChatArguments(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (chatArguments.help) {
    console.log(USAGE);
    return;
  }
  const backend = await openBackend(chatArguments);
  const { ChatSession } = await import("./chat-session.js");
  let interrupted = false;
  const interrupt = () => {
    // A second Ctrl-C does not wait for the database to close.
    if (interrupted) process.exit(INTERRUPTED);
    interrupted = true;
    session.stop();
  };
  const session = new ChatSession({
    backend,
    threadId: chatArguments.threadId,
    remote: chatArguments.url !== undefined,
    input: process.stdin,
    output: process.stdout,
    errors: process.stderr,
    interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
    onInterrupt: interrupt,
  });
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  try {
    await session.run();
  } finally {
    // Closing folds SQLite's WAL back into the database file, so nothing is left dangling.
    await backend.close();
  }
  process.exitCode = interrupted ? INTERRUPTED : 0;
}

await main();
