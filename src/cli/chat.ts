/**
 * `npm run chat`: a terminal chat with the agent, on the agent in this process (the database in
 * `DATA_DIR` or `DATABASE_URL`, as the server's) or on a server (`--url`). Exit codes: 0 after
 * `/exit` or the end of the input, 1 when the environment or the database is unusable, the server
 * does not answer, or (input from a pipe) a message failed, 2 for a bad command line or an unknown
 * `--assistant`, 130 after Ctrl-C / SIGINT or SIGTERM (the database is closed in every case).
 * Ctrl-C while a reply streams stops that reply; at the prompt, or a second time, it leaves. The
 * chat itself is `runChatCommand`; this file gives it the process's streams, environment and signals.
 */
import { EventEmitter } from "node:events";
import { loadConfigOrExit } from "../config.js";
import { EXIT_INTERRUPTED, EXIT_OK, runChatCommand } from "./chat-command.js";

const termination = new AbortController();
process.on("SIGTERM", () => {
  // A second SIGTERM does not wait for the database to close.
  if (termination.signal.aborted) process.exit(EXIT_INTERRUPTED);
  termination.abort();
});
// Ctrl-C reaches the process as SIGINT when input is not a terminal (at one, readline gets it).
const interrupts = new EventEmitter();
process.on("SIGINT", () => {
  // Once the chat has returned, nothing is left to stop: leave.
  if (!interrupts.emit("interrupt")) process.exit(EXIT_INTERRUPTED);
});

const code = await runChatCommand({
  argv: process.argv.slice(2),
  loadConfig: loadConfigOrExit,
  input: process.stdin,
  output: process.stdout,
  errors: process.stderr,
  interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
  signal: termination.signal,
  interrupts,
  exitNow: (exitCode) => process.exit(exitCode),
});
// After a chat, exit when the event loop is done (output flushed); after a failure at once, as
// nothing is left to finish and a database that failed to open may still hold handles.
if (code === EXIT_OK || code === EXIT_INTERRUPTED) process.exitCode = code;
else process.exit(code);
