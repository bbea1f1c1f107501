/** The terminal chat's command line: `npm run chat -- [--thread <id>] [--assistant <id or name>] [--url <url> [--api-key <key>]]`. */
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";
import { isServerThreadId } from "./chat-backend.js";

/** Printed for `--help` and after any bad flag. */
export const USAGE = `Usage: npm run chat -- [--thread <id>] [--assistant <id or name>] [--url <url> [--api-key <key>]]

  --thread <id>     continue this thread (created by its first message if new); without it a new
                    thread is started and its id printed
  --assistant <id or name>
                    talk through this assistant (its system prompt, model, temperature, ...): its
                    id, or its name in any case; by default the graph's own assistant "agent".
                    An unknown one exits with code 2
  --url <url>       talk to a LangGraph server, e.g. http://127.0.0.1:8123, instead of the agent
                    in this process (which uses DATA_DIR / DATABASE_URL like the server)
  --api-key <key>   the server's API key (sent as x-api-key); only with --url
  -h, --help        show this help

In the chat, /help lists the commands (/assistants lists the assistants).`;

/** What the command line asked for. */
export interface ChatArguments {
  /** The thread to continue; undefined starts a new one. */
  threadId: string | undefined;
  /** The server's base URL; undefined runs the agent in this process. */
  url: string | undefined;
  apiKey: string | undefined;
  /** The assistant to talk through, by id or name; undefined is the graph's own. */
  assistant: string | undefined;
  help: boolean;
}

/**
 * Why `threadId` cannot name a thread, or undefined when it can. A server only takes UUIDs; the
 * agent in this process takes any id without spaces, as code using the graph may choose one.
 */
export function threadIdProblem(threadId: string, remote: boolean): string | undefined {
  if (remote && !isServerThreadId(threadId)) return `a thread id must be a UUID on a server, not ${JSON.stringify(threadId)}`;
  if (threadId === "" || /\s/.test(threadId)) return `a thread id cannot be empty or contain spaces, not ${JSON.stringify(threadId)}`;
  return undefined;
}

/** Parses `argv` (without node and the script); throws `UsageError` on anything it cannot use (the chat exits 2). */
export function parseChatArguments(argv: string[]): ChatArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        thread: { type: "string" },
        url: { type: "string" },
        "api-key": { type: "string" },
        assistant: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const { thread: threadId, url, "api-key": apiKey, assistant, help = false } = parsed.values;
  if (assistant !== undefined && assistant.trim() === "") throw new UsageError("--assistant needs an assistant id or name");
  if (apiKey !== undefined && url === undefined) throw new UsageError("--api-key needs --url");
  if (url !== undefined) {
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(url);
    } catch (error) {
      throw new UsageError(`--url must be an http(s) URL, not ${JSON.stringify(url)}`, { cause: error });
    }
    if (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:") throw new UsageError(`--url must be an http(s) URL, not ${JSON.stringify(url)}`);
  }
  if (threadId !== undefined) {
    const problem = threadIdProblem(threadId, url !== undefined);
    if (problem) throw new UsageError(`--thread: ${problem}`);
  }
  return { threadId, url, apiKey, assistant: assistant?.trim(), help };
}
