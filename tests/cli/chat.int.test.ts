/**
 * The terminal chat as a user meets it: piped stdin, the stub model; on the agent in its own
 * process (SQLite in a temp DATA_DIR) and against a server. What only a process can show (memory
 * across processes, signals, exit codes, a process against a server) runs the real CLI in a child
 * process; the rest runs the same command in this process (`runChatInProcess`), which saves the
 * second or two each process takes to load the agent.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_FILE } from "../../src/storage/sqlite/checkpointer.js";
import { type Chat, runChat, runChatInProcess, startChat, startChatInProcess } from "../support/chat-process.js";
import { makeEnv } from "../support/fixtures.js";
import { type ChatRequest, memoryResponder, wireText } from "../support/openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { type TestServer, startServer } from "../support/server.js";
import { useProcessFixture } from "../support/use-process-fixture.js";
import { until } from "../support/until.js";
import { NO_MEMORIES } from "../../src/cli/chat-session.js";

// A fresh DATA_DIR for each test.
const fixture = useProcessFixture({ dataDir: "test" });

/** The environment of a chat on the agent in its own process: the stub, SQLite in the test's DATA_DIR. */
const env = fixture.env;
/** User texts of the newest request the model received. */
const lastUserTexts = () => (fixture.stub.requests.at(-1)?.body.messages ?? []).filter((message) => message.role === "user").map(wireText);
const newThreadIn = (stdout: string) => /New thread ([0-9a-f-]{36})/.exec(stdout)?.[1];
const walLeft = () => existsSync(join(fixture.dataDir, `${DATABASE_FILE}-wal`));
/** The system message of each request the model received, in order. */
const systemPrompts = () => fixture.stub.requests.map((request) => request.body.messages.filter((message) => message.role === "system").map(wireText).join("\n"));

describe("terminal chat on the agent in its own process", () => {
  it("remembers a thread across runs: the second run's model is sent the first run's messages", async () => {
    const threadId = randomUUID();
    // All lines at once, as a pipe delivers them: each is handled after the previous turn, and nothing after /exit.
    const first = await runChat(["--thread", threadId], env(), fixture.dataDir, "My name is Ada\n/exit\nnot sent\n");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("Nice to meet you, Ada!");
    expect(fixture.stub.requests).toHaveLength(1);
    expect(walLeft()).toBe(false);

    const second = await runChat(["--thread", threadId], env(), fixture.dataDir, "What is my name?\n");
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`Thread ${threadId}`);
    expect(second.stdout).toContain("Your name is Ada.");
    expect(lastUserTexts()).toEqual(["My name is Ada", "What is my name?"]);
    expect(second.stderr).toBe("");
  });

  it("streams the reply: its first words are printed while the model is still answering", async () => {
    await expectFirstWordsBeforeTheEnd(startChatInProcess([], env()));
  });

  it("/history, /new, /threads and /switch: new threads first, the current one marked, titles from first messages", async () => {
    const input = ["My name is Ada", "/history", "/new", "/threads", "hello", "/threads", "/history"].join("\n");
    const chat = startChatInProcess([], env());
    chat.write(`${input}\n`);
    await chat.waitForOutput(/you: hello\nassistant: You said: hello\n/);
    const first = newThreadIn(chat.stdout)!;
    const second = /^New thread ([0-9a-f-]{36})$/m.exec(chat.stdout)?.[1];
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(chat.stdout).toContain("you: My name is Ada\nassistant: Nice to meet you, Ada!\n");
    const listings = chat.stdout.split("\n").filter((line) => / {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}|\(new, no messages yet\)/.test(line));
    // Right after /new the new thread has no messages yet, but is listed (numbered) and marked.
    expect(listings[0]).toBe(`* 1. ${second}                    (new, no messages yet)`);
    expect(listings[1]).toMatch(new RegExp(`^  2\\. ${first}  .+  My name is Ada$`));
    // After its first message it is the most recent thread.
    expect(listings[2]).toMatch(new RegExp(`^\\* 1\\. ${second}  .+  hello$`));
    expect(listings[3]).toMatch(new RegExp(`^  2\\. ${first}  .+  My name is Ada$`));
    const afterNew = chat.stdout.slice(chat.stdout.lastIndexOf("You said: hello"));
    expect(afterNew).not.toContain("Ada");

    // The number of the listing just shown.
    chat.write(`/switch 2\n/history\nWhat is my name?\n/exit\n`);
    await chat.waitForOutput("Your name is Ada.");
    expect(chat.stdout).toContain(`Thread ${first}\nyou: My name is Ada\n`);
    expect(await chat.exited).toBe(0);
    expect(chat.stderr).toBe("");
  });

  it("lists threads made through the server, with their metadata title, and ends at the end of its input", async () => {
    const server = await startServer(fixture.stub, { dataDir: fixture.dataDir });
    const thread = await server.client.threads.create({ metadata: { title: "Trip planning" } });
    await server.client.runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "Where should I go?" }] } });
    await server.close({ keepData: true });

    const { code, stdout, stderr } = await runChatInProcess(["--thread", thread.thread_id], env(), "/threads\n/history\n/help\n");
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^\\* 1\\. ${thread.thread_id}  .+  Trip planning$`, "m"));
    expect(stdout).toContain("you: Where should I go?\nassistant: You said: Where should I go?\n");
    expect(stdout).toContain("/switch <number or id>");
    expect(stderr).toBe("");
  });

  it("threads it starts are visible to the server on the same database", async () => {
    const threadId = randomUUID();
    await runChatInProcess(["--thread", threadId], env(), "My name is Ada\n");
    const server = await startServer(fixture.stub, { dataDir: fixture.dataDir });
    try {
      const state = await server.client.threads.getState<{ messages: Array<{ content: string }> }>(threadId);
      expect(state.values.messages.map((message) => message.content)).toEqual(["My name is Ada", "Nice to meet you, Ada!"]);
    } finally {
      await server.close({ keepData: true });
    }
  });

  it("a provider error prints one error line, leaves the thread as it was, and the chat goes on (then exits 1: its input was a pipe)", async () => {
    fixture.stub.inject({ kind: "status", status: 400, message: "Bad request, says the provider" });
    const { code, stdout, stderr } = await runChatInProcess([], env(), "My name is Ada\nMy name is Bob\nWhat is my name?\n");
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^error: .*HTTP 400.*Bad request, says the provider/);
    expect(stdout).toContain("Nice to meet you, Bob!");
    expect(stdout).toContain("Your name is Bob.");
    // The failed turn's message was not kept.
    expect(lastUserTexts()).toEqual(["My name is Bob", "What is my name?"]);
  });

  it("prints each reply once when the provider reuses reply ids", async () => {
    fixture.stub.useReplyId("chatcmpl-always-the-same");
    const { stdout } = await runChatInProcess([], env(), "My name is Ada\nWhat is my name?\n");
    expect(stdout.match(/Nice to meet you, Ada!/g)).toHaveLength(1);
    expect(stdout.match(/Your name is Ada\./g)).toHaveLength(1);
  });

  it("without a model says what to set, at start and for each message, goes on, and exits 1 as a message failed", async () => {
    // In a process: the exit code a script piping messages in sees.
    const { code, stdout, stderr } = await runChat([], makeEnv(undefined, fixture.dataDir), fixture.dataDir, "hello\n/history\n");
    expect(code).toBe(1);
    expect(stderr).toMatch(/^warning: No model provider is configured: set OPENAI_API_KEY .* or OPENAI_BASE_URL/);
    expect(stderr).toMatch(/\nerror: No model provider is configured/);
    expect(stdout).toContain("(no messages yet)");
  });

  it("on SIGINT stops, closes the database (no WAL left) and exits 130", async () => {
    const chat = startChat([], env(), fixture.dataDir);
    chat.write("hello\n");
    await chat.waitForOutput("You said: hello\n");
    expect(walLeft()).toBe(true);
    chat.child.kill("SIGINT");
    expect(await chat.exited).toBe(130);
    expect(walLeft()).toBe(false);
  });

  it("SIGINT in the middle of a reply stops it, keeping what was printed; SIGINT at the prompt exits 130 and closes the database", async () => {
    const resume = holdReplyAfterFirstWord();
    const chat = startChat([], env(), fixture.dataDir);
    try {
      chat.write("count to five\n");
      await chat.waitForOutput("one");
      chat.child.kill("SIGINT");
      await chat.waitForOutput("one (stopped)\n");
    } finally {
      resume();
    }
    // The chat goes on: the next message is answered.
    chat.write("hello\n");
    await chat.waitForOutput("You said: hello\n");
    chat.child.kill("SIGINT");
    expect(await chat.exited).toBe(130);
    expect(chat.stdout).not.toContain("two");
    expect(chat.stderr).toBe("");
    expect(walLeft()).toBe(false);
  });

  it("Ctrl-C at a terminal: stops the reply, then at the prompt leaves", async () => {
    const resume = holdReplyAfterFirstWord();
    // readline reads the input as keys typed at a terminal; Ctrl-C is the byte 0x03.
    const chat = startChatInProcess([], env(), { interactive: true });
    try {
      chat.write("count to five\r");
      await chat.waitForOutput("one");
      chat.write("\u0003");
      await chat.waitForOutput("one (stopped)\n");
    } finally {
      resume();
    }
    chat.write("hello\r");
    await chat.waitForOutput("You said: hello\n");
    chat.write("\u0003");
    expect(await chat.exited).toBe(130);
    expect(chat.stdout).not.toContain("two");
  });

  it("Ctrl-C twice during a reply leaves (130), as does Ctrl-C before any message", async () => {
    const resume = holdReplyAfterFirstWord();
    const twice = startChatInProcess([], env());
    try {
      twice.write("count to five\n");
      await twice.waitForOutput("one");
      twice.interrupt();
      twice.interrupt();
      expect(await twice.exited).toBe(130);
    } finally {
      resume();
    }
    const atPrompt = startChatInProcess([], env());
    await atPrompt.waitForOutput("New thread");
    atPrompt.interrupt();
    expect(await atPrompt.exited).toBe(130);
    expect(`${twice.stderr}${atPrompt.stderr}`).toBe("");
  });

  it("a stopped reply is no failure: a chat on a pipe still exits 0, and the thread takes the next turn", async () => {
    const resume = holdReplyAfterFirstWord();
    const threadId = randomUUID();
    const chat = startChatInProcess(["--thread", threadId], env());
    try {
      chat.write("count to five\n");
      await chat.waitForOutput("one");
      chat.interrupt();
      await chat.waitForOutput("one (stopped)\n");
    } finally {
      resume();
    }
    chat.write("My name is Ada\n/history\n");
    chat.end();
    expect(await chat.exited).toBe(0);
    expect(chat.stdout).toContain("Nice to meet you, Ada!\n");
    expect(chat.stderr).toBe("");
    expect(lastUserTexts().at(-1)).toBe("My name is Ada");
    // As on the server: the stopped turn stays, the user's words and what was printed of the reply.
    expect(chat.stdout).toMatch(/^you: count to five\n.*one/ms);
    const sentNext = fixture.stub.requests.at(-1)!.body.messages.map((message) => message.content);
    expect(sentNext).toEqual(expect.arrayContaining(["count to five", "one", "My name is Ada"]));
  });

  it("/switch takes a number from /threads or the start of an id, and says when none or several match", async () => {
    for (const threadId of ["topic-apples", "topic-pears"]) await runChatInProcess(["--thread", threadId], env(), `about ${threadId}\n`);
    const input = ["/switch topic", "/switch nothing-like-it", "/switch 7", "/switch topic-p", "/history", "/threads", "/switch 2", "/history"].join("\n");
    const { code, stdout, stderr } = await runChatInProcess([], env(), `${input}\n`);
    expect(code).toBe(0);
    expect(stderr.split("\n")).toEqual([
      'error: 2 threads have an id starting with "topic" (topic-pears, topic-apples): give more of it',
      'error: No thread found with an id starting with "nothing-like-it"; /threads lists them',
      'error: No thread found numbered 7 or with an id starting with "7"; /threads numbers 3 threads',
      "",
    ]);
    // No thread was opened by the failed attempts: the pears are reached by their prefix, the apples by their number.
    expect(stdout).toContain("Thread topic-pears\nyou: about topic-pears\n");
    expect(stdout).toMatch(/^\* 1\. topic-pears {2}.+\n {2}2\. topic-apples {2}/m);
    expect(stdout).toContain("Thread topic-apples\nyou: about topic-apples\n");
  });

  it("--assistant, /assistants and /assistant: the assistant's system prompt reaches the model, an unknown one exits 2", async () => {
    // Assistants made through the server, kept in the same database.
    const server = await startServer(fixture.stub, { dataDir: fixture.dataDir });
    const pirate = await server.client.assistants.create({ graphId: "agent", name: "Pirate", config: { configurable: { system_prompt: "Speak like a pirate." } } });
    await server.client.assistants.update(pirate.assistant_id, { config: { configurable: { system_prompt: "Speak like a pirate, briefly." } } });
    const poet = await server.client.assistants.create({ graphId: "agent", name: "Poet", context: { system_prompt: "Answer in rhymes about {topic}.", topic: "the sea" } });
    await server.close({ keepData: true });

    const input = ["My name is Ada", "/assistants", `/assistant ${poet.assistant_id}`, "What is my name?", "/assistant nobody", "/assistant agent", "hello"].join("\n");
    const { code, stdout, stderr } = await runChatInProcess(["--assistant", "pIrAtE"], env(), `${input}\n`);
    expect(code).toBe(0);
    expect(stdout).toContain(`Assistant Pirate (${pirate.assistant_id}, version 2).`);
    // The version in use, then the other assistant (context over config, its variable filled), then the graph's own.
    const prompts = systemPrompts();
    expect(prompts).toHaveLength(3);
    expect(prompts[0]).toContain("Speak like a pirate, briefly.");
    expect(prompts[1]).toContain("Answer in rhymes about the sea.");
    expect(prompts[2]).not.toMatch(/pirate|rhymes/);
    // The poet's turn is a new thread: it does not know the pirate's conversation.
    expect(stdout).toContain(`Assistant Poet (${poet.assistant_id}, version 1); new thread`);
    expect(lastUserTexts()).toEqual(["hello"]);
    const listing = stdout.split("\n").filter((line) => / {2}v\d+ {2}/.test(line));
    expect(listing).toEqual([
      expect.stringMatching(/^ {2}[0-9a-f-]{36} {2}v1 {2}agent \(the graph's own\)$/),
      `* ${pirate.assistant_id}  v2  Pirate`,
      `  ${poet.assistant_id}  v1  Poet`,
    ]);
    expect(stderr).toBe('error: No assistant has the id or name "nobody"; /assistants lists them\n');

    const unknown = await runChatInProcess(["--assistant", "Nobody"], env(), "hello\n");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('--assistant: No assistant has the id or name "Nobody"\n');
    expect(fixture.stub.requests).toHaveLength(3);
  });

  it("rejects bad command lines with the usage and exit code 2", async () => {
    // The first in a process (the exit code is the process's), every one in this process.
    const inProcess = (args: string[]) => runChatInProcess(args, env(), "");
    const cases: Array<[string[], typeof inProcess]> = [
      [["--bogus"], (args) => runChat(args, env(), fixture.dataDir, "")],
      ...[["--bogus"], ["stray"], ["--api-key", "k"], ["--url", "ftp://example.com"], ["--url", "http://127.0.0.1:1", "--thread", "not-a-uuid"]].map((args): [string[], typeof inProcess] => [args, inProcess]),
    ];
    for (const [args, run] of cases) {
      const { code, stdout, stderr } = await run(args);
      expect(code, args.join(" ")).toBe(2);
      expect(stderr, args.join(" ")).toContain("Usage: npm run chat --");
      expect(stdout).toBe("");
    }
    expect(fixture.stub.requests).toHaveLength(0);
    for (const help of [await runChat(["--help"], env(), fixture.dataDir, ""), await runChatInProcess(["--help"], env(), "")]) {
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("Usage: npm run chat --");
    }
  });
  it("/memory lists the memories the server stored in the same database, /memory forget and /memory clear --yes delete them", async () => {
    const server = await startServer(fixture.stub, { dataDir: fixture.dataDir });
    await putTwoMemories(server);
    await server.close({ keepData: true });

    const input = ["/memory", "/memory forget name", "/memory forget name", "/memory", "/memory clear --yes", "/memory", "/memory clear", "/memory bogus"].join("\n");
    const { code, stdout, stderr } = await runChatInProcess([], env(), `${input}\n`);
    expect(code).toBe(0);
    const listings = memoryListings(stdout);
    expect(listings[0]).toEqual([expect.stringMatching(/^ {2}language {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}Prefers answers in French$/), expect.stringMatching(/^ {2}name {6}.+ {2}The user's name is Ada$/)]);
    expect(stdout).toContain("Forgot name.\n");
    expect(listings[1]).toEqual([expect.stringMatching(/^ {2}language {2}.+ {2}Prefers answers in French$/)]);
    expect(stdout).toContain("Forgot 1 memory.\n");
    expect(stdout).toContain(`${NO_MEMORIES}\nNothing is remembered.\n`);
    expect(stderr).toBe('error: No memory has the key "name"; /memory lists them\nerror: Usage: /memory, /memory forget <key>, /memory clear [--yes]\n');
    expect(fixture.stub.requests).toHaveLength(0);

    // What the chat deleted, the server no longer has.
    const after = await startServer(fixture.stub, { dataDir: fixture.dataDir });
    try {
      expect((await after.client.store.searchItems(["memories"])).items).toEqual([]);
    } finally {
      await after.close({ keepData: true });
    }
  });
});

const pgReachable = await postgresReachable();

(pgReachable ? describe : describe.skip)("terminal chat on the agent in its own process, on PostgreSQL", () => {
  const schema = schemaName();
  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    await dropSchema(pool, schema);
    await pool.end();
  });

  it("remembers a thread across runs and lists it", async () => {
    const database = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema };
    const threadId = randomUUID();
    const first = await runChatInProcess(["--thread", threadId], env(database), "My name is Ada\n");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("on PostgreSQL (DATABASE_URL, schema");
    const second = await runChatInProcess(["--thread", threadId], env(database), "What is my name?\n/threads\n");
    expect(second.stdout).toContain("Your name is Ada.");
    expect(second.stdout).toMatch(new RegExp(`^\\* 1\\. ${threadId}  .+  My name is Ada$`, "m"));
    expect(lastUserTexts()).toEqual(["My name is Ada", "What is my name?"]);
    // Nothing was written to SQLite.
    expect(existsSync(join(fixture.dataDir, DATABASE_FILE))).toBe(false);
  });
});

describe("terminal chat against a server (--url)", () => {
  // One server for the block: each test has threads of its own.
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(fixture.stub);
  });
  afterAll(() => server.close());

  it("remembers a thread across runs, and the thread is the server's", async () => {
    const threadId = randomUUID();
    // The thread does not exist on the server until its first message.
    const first = await runChat(["--url", server.baseUrl, "--thread", threadId], {}, fixture.dataDir, "/history\n/threads\nMy name is Ada\n");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("(no messages yet)");
    expect(first.stdout).toContain(`* 1. ${threadId}                    (new, no messages yet)`);
    expect(first.stdout).toContain("Nice to meet you, Ada!");
    expect(first.stderr).toBe("");

    const second = await runChat(["--url", server.baseUrl, "--thread", threadId], {}, fixture.dataDir, "What is my name?\n/threads\n/history\n");
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("Your name is Ada.");
    expect(lastUserTexts()).toEqual(["My name is Ada", "What is my name?"]);
    expect(second.stdout).toMatch(new RegExp(`^\\* +\\d+\\. ${threadId}  .+  My name is Ada$`, "m"));
    expect(second.stdout).toContain("you: My name is Ada\nassistant: Nice to meet you, Ada!\nyou: What is my name?\nassistant: Your name is Ada.\n");
    expect(second.stderr).toBe("");

    const state = await server.client.threads.getState<{ messages: Array<{ type: string; content: string }> }>(threadId);
    expect(state.values.messages.map((message) => [message.type, message.content])).toEqual([
      ["human", "My name is Ada"],
      ["ai", "Nice to meet you, Ada!"],
      ["human", "What is my name?"],
      ["ai", "Your name is Ada."],
    ]);
  });

  it("streams the reply token by token through the server", async () => {
    await expectFirstWordsBeforeTheEnd(startChatInProcess(["--url", server.baseUrl], {}));
  });

  it("a failed run prints one error line and the next message still works", async () => {
    fixture.stub.inject({ kind: "status", status: 400 });
    const { code, stdout, stderr } = await runChatInProcess(["--url", server.baseUrl], {}, "My name is Ada\nMy name is Bob\nWhat is my name?\n");
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^error: The run failed: .*400/);
    expect(stdout).toContain("Your name is Bob.");
    expect(lastUserTexts()).toEqual(["My name is Bob", "What is my name?"]);
  });

  it("says when the server refuses the key, and works with the right one", async () => {
    const key = "ada-key-0123456789abcdef";
    const guarded = await startServer(fixture.stub, { env: { API_KEYS: `ada:${key}` } });
    try {
      const refused = await runChatInProcess(["--url", guarded.baseUrl, "--api-key", "wrong-key-0123456789abcdef"], {}, "hello\n/threads\n");
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^error: The server answered HTTP 401: /), expect.stringMatching(/^error: The server answered HTTP 401: /)]);
      const accepted = await runChatInProcess(["--url", guarded.baseUrl, "--api-key", key], {}, "hello\n");
      expect(accepted.stdout).toContain("You said: hello");
      expect(accepted.stderr).toBe("");
    } finally {
      await guarded.close();
    }
  });

  it("Ctrl-C during a reply cancels the run as a user's stop (interrupt), keeps what was printed, and the thread takes the next turn", async () => {
    const resume = holdReplyAfterFirstWord();
    const threadId = randomUUID();
    const chat = startChatInProcess(["--url", server.baseUrl, "--thread", threadId], {});
    try {
      chat.write("count to five\n");
      await chat.waitForOutput("one");
      chat.interrupt();
      await chat.waitForOutput("one (stopped)\n");
    } finally {
      resume();
    }
    // Stopped, not rolled back: the run is kept, and so is the message (the thread is not left as
    // if it had never been sent). The chat waited for the run's end: the next turn is not refused as busy.
    expect((await server.client.runs.list(threadId)).map((run) => run.status)).toEqual(["interrupted"]);
    chat.write("My name is Ada\n/history\n");
    chat.end();
    expect(await chat.exited).toBe(0);
    expect(chat.stderr).toBe("");
    expect(chat.stdout).toContain("Nice to meet you, Ada!\n");
    expect(chat.stdout).toMatch(/^you: count to five\n/m);
  });

  it("/switch finds the server's threads by the start of their id, and refuses an id the server does not have", async () => {
    const thread = await server.client.threads.create({ metadata: { title: "Made through the API" } });
    const missing = randomUUID();
    const { code, stdout, stderr } = await runChatInProcess(["--url", server.baseUrl], {}, `/switch ${missing}\n/switch ${thread.thread_id.slice(0, 13)}\n/threads\n`);
    expect(code).toBe(0);
    expect(stderr).toBe(`error: No thread found with an id starting with "${missing}"; /threads lists them\n`);
    expect(stdout).toContain(`Thread ${thread.thread_id}\n`);
    expect(stdout).toMatch(new RegExp(`^\\* +\\d+\\. ${thread.thread_id} {2}.+ {2}Made through the API$`, "m"));
  });

  it("a server that does not answer: exits 1 at once, before starting a thread", async () => {
    const stopped = await startServer(fixture.stub);
    const url = stopped.baseUrl;
    await stopped.close();
    // In a process: the exit code and all it printed.
    const { code, stdout, stderr } = await runChat(["--url", url], {}, fixture.dataDir, "hello\n");
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(`Cannot reach the server at ${url}: is it running? (fetch failed)\n`);
  });

  it("a server that stops during the chat: each request says so, and the chat goes on", async () => {
    const going = await startServer(fixture.stub);
    const chat = startChatInProcess(["--url", going.baseUrl], {});
    await chat.waitForOutput("New thread");
    await going.close();
    chat.write("hello\n/threads\n/help\n");
    chat.end();
    expect(await chat.exited).toBe(1);
    expect(chat.stderr.trim().split("\n")).toEqual([
      `error: Cannot reach the server at ${going.baseUrl}: is it running? (fetch failed)`,
      `error: Cannot reach the server at ${going.baseUrl}: is it running? (fetch failed)`,
    ]);
    expect(chat.stdout).toContain("/switch <number or id>");
  });

  it("--assistant by name or id passes the assistant to the server's runs, /assistant switches; an unknown one exits 2", async () => {
    const name = `Pirate ${randomUUID()}`;
    const pirate = await server.client.assistants.create({ graphId: "agent", name, config: { configurable: { system_prompt: "Speak like a pirate." } } });
    const { code, stdout, stderr } = await runChatInProcess(["--url", server.baseUrl, "--assistant", name.toUpperCase()], {}, "My name is Ada\n/assistants\n/assistant agent\nhello\n");
    expect(code).toBe(0);
    expect(stderr).toBe("");
    expect(stdout).toContain(`Assistant ${name} (${pirate.assistant_id}, version 1).`);
    expect(stdout).toContain(`* ${pirate.assistant_id}  v1  ${name}\n`);
    expect(stdout).toMatch(/^ {2}[0-9a-f-]{36} {2}v1 {2}agent \(the graph's own\)$/m);
    const prompts = systemPrompts();
    expect(prompts).toHaveLength(2);
    expect(prompts[0]).toContain("Speak like a pirate.");
    expect(prompts[1]).not.toContain("pirate");
    // The server stamped the assistant on the thread the chat started with it.
    const threadId = newThreadIn(stdout)!;
    expect((await server.client.threads.get(threadId)).metadata?.assistant_id).toBe(pirate.assistant_id);

    const byId = await runChatInProcess(["--url", server.baseUrl, "--assistant", pirate.assistant_id], {}, "hello\n");
    expect(byId.stdout).toContain(`Assistant ${name} (${pirate.assistant_id}, version 1).`);
    expect(systemPrompts().at(-1)).toContain("Speak like a pirate.");

    for (const unknown of [randomUUID(), "Nobody at all"]) {
      const refused = await runChatInProcess(["--url", server.baseUrl, "--assistant", unknown], {}, "hello\n");
      expect(refused.code).toBe(2);
      expect(refused.stderr).toBe(`--assistant: No assistant has the id or name ${JSON.stringify(unknown)}\n`);
    }
    expect(fixture.stub.requests).toHaveLength(3);
  });

  it("prints each reply once when the provider reuses reply ids", async () => {
    fixture.stub.useReplyId("chatcmpl-always-the-same");
    const { stdout } = await runChatInProcess(["--url", server.baseUrl], {}, "My name is Ada\nWhat is my name?\n");
    expect(stdout.match(/Nice to meet you, Ada!/g)).toHaveLength(1);
    expect(stdout.match(/Your name is Ada\./g)).toHaveLength(1);
  });

  it("/memory lists the server's memories through its Store API, /memory forget deletes one, /memory clear asks first", async () => {
    // A server of its own: no other test's turns leave memories in it.
    const own = await startServer(fixture.stub);
    try {
      await putTwoMemories(own);
      const input = ["/memory", "/memory forget name", "/memory forget name", "/memory", "/memory clear", "no", "/memory", "/memory clear", "yes", "/memory", "/help"].join("\n");
      const { code, stdout, stderr } = await runChatInProcess(["--url", own.baseUrl], {}, `${input}\n`);
      expect(code).toBe(0);
      expect(stderr).toBe('error: No memory has the key "name"; /memory lists them\n');
      const listings = memoryListings(stdout);
      expect(listings[0]).toEqual([expect.stringMatching(/^ {2}language {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}Prefers answers in French$/), expect.stringMatching(/^ {2}name {6}.+ {2}The user's name is Ada$/)]);
      expect(stdout).toContain("Forgot name.\n");
      // Declining keeps everything; confirming forgets everything.
      const question = "Forget everything the agent remembers about you? This cannot be undone. [y/N]\n";
      expect(stdout).toContain(`${question}Nothing was forgotten.\n`);
      expect(listings[1]).toEqual([expect.stringMatching(/^ {2}language {2}.+ {2}Prefers answers in French$/)]);
      expect(listings[2]).toEqual(listings[1]);
      expect(stdout).toContain(`${question}Forgot 1 memory.\n${NO_MEMORIES}\n`);
      expect(stdout).toContain("/memory forget <key>");
      expect((await own.client.store.searchItems(["memories"])).items).toEqual([]);
    } finally {
      await own.close();
    }
  });
});

/** Puts two memories for the local user (no API keys) through the server's Store API, the second newer. */
async function putTwoMemories(server: TestServer) {
  const user = ["memories", "local"];
  await server.client.store.putItem(user, "name", { text: "The user's name is Ada" });
  const first = await server.client.store.getItem(user, "name");
  await until(() => Date.now() > Date.parse(first!.updatedAt) + 1);
  await server.client.store.putItem(user, "language", { text: "Prefers answers in French" });
}

/** The listings `/memory` printed, each as its lines (`  <key>  <time>  <text>`). */
function memoryListings(stdout: string): string[][] {
  const listings: string[][] = [];
  let current: string[] | undefined;
  for (const line of stdout.split("\n")) {
    if (!/^ {2}\S+ +\d{4}-\d\d-\d\d \d\d:\d\d {2}/.test(line)) {
      current = undefined;
      continue;
    }
    if (!current) listings.push((current = []));
    current.push(line);
  }
  return listings;
}

/**
 * Has the stub answer "count to five" with "one two three four five" (other messages as usual),
 * holding the next reply after "one" until the returned function is called (call it in a finally).
 */
function holdReplyAfterFirstWord(): () => void {
  let resume!: () => void;
  const lastUserText = (request: ChatRequest) => wireText(request.messages.filter((message) => message.role === "user").at(-1) ?? { role: "user", content: "" });
  fixture.stub.respondWith((request) => (lastUserText(request) === "count to five" ? "one two three four five" : memoryResponder(request)));
  // The stub sends the role chunk and "one", then holds the rest until the test lets it go.
  fixture.stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<void>((resolve) => (resume = resolve)) });
  return resume;
}

/**
 * Has the stub hold its reply after the first word, sends a message to `chat` (just started),
 * and checks that the word is printed before the rest exists: the reply is streamed, not printed
 * at the end.
 */
async function expectFirstWordsBeforeTheEnd(chat: Chat) {
  let resume!: () => void;
  fixture.stub.respondWith(() => "one two three four five");
  // The stub sends the role chunk and "one", then holds the rest until the test lets it go.
  fixture.stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<void>((resolve) => (resume = resolve)) });
  chat.write("count to five\n");
  await chat.waitForOutput("one");
  expect(chat.stdout).not.toContain("five");
  resume();
  await chat.waitForOutput("one two three four five\n");
  chat.end();
  expect(await chat.exited).toBe(0);
}
