/**
 * `npm run chat`: a terminal chat with the agent, on the agent in this process (the database in
 * `DATA_DIR` or `DATABASE_URL`, as the server's) or on a server (`--url`). Exit codes: 0 after
 * `/exit` or the end of the input, 1 when the environment or the database is unusable, 2 for a
 * bad command line or an unknown `--assistant`, 130 after Ctrl-C / SIGINT (the database is closed in every case). The chat
 * itself is `runChatCommand`; this file gives it the process's streams, environment and signals.
 */
import { loadConfigOrExit } from "../config.js";
import { EXIT_INTERRUPTED, EXIT_OK, runChatCommand } from "./chat-command.js";

const interruption = new AbortController();
const interrupt = () => {
  // A second Ctrl-C does not wait for the database to close.
  if (interruption.signal.aborted) process.exit(EXIT_INTERRUPTED);
  interruption.abort();
};
process.on("SIGINT", interrupt);
process.on("SIGTERM", interrupt);

const code = await runChatCommand({
  argv: process.argv.slice(2),
  loadConfig: loadConfigOrExit,
  input: process.stdin,
  output: process.stdout,
  errors: process.stderr,
  interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
  signal: interruption.signal,
  onInterrupt: interrupt,
});
// After a chat, exit when the event loop is done (output flushed); after a failure at once, as
// nothing is left to finish and a database that failed to open may still hold handles.
if (code === EXIT_OK || code === EXIT_INTERRUPTED) process.exitCode = code;
else process.exit(code);
