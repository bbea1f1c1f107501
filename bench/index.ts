/**
 * `npm run bench [-- --turns N] [--retrieval-chunks N] [--sections a,b]`: prints one JSON object
 * with the figures of the storage and latency issue, the floor measured in the same run beside
 * them, retrieval at 10k chunks, the Store at 10k items, storage at rest as an operator sees it,
 * long-term memory (recall at 10k memories, extraction calls per turn), and thread search by
 * text over 1,000 threads of 20 messages. A benchmark, not a
 * test: the numbers depend on the machine; the ratios are what to compare.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { firstTokenBench, httpBench } from "./http.js";
import { inProcessBench } from "./in-process.js";
import { memoryBenchStores } from "./memory-stores.js";
import { memoryBench } from "./memory.js";
import { operatorStorageBench } from "./operator-storage.js";
import { postgresBench } from "./postgres.js";
import { realPathBench } from "./real-path.js";
import { retrievalBench } from "./retrieval.js";
import { storeBench } from "./store.js";
import { summaryBench } from "./summary.js";
import { threadSearchBench } from "./thread-search.js";

const SECTIONS = ["real_path", "in_process", "http", "first_token", "postgres", "summary_memory", "retrieval", "store", "storage_at_rest", "long_term_memory", "thread_search"] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({
  options: {
    turns: { type: "string", default: "1000" },
    // PostgreSQL to measure too; a machine without one reports the section as skipped.
    "database-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/test" },
    // Chunks indexed and searched by the retrieval section (the figure).
    "retrieval-chunks": { type: "string", default: "10000" },
    // Only these sections, comma-separated (all by default): the whole bench takes a while.
    sections: { type: "string", default: SECTIONS.join(",") },
    // Turns the real-path section runs through the server to read its memory along the way.
    "soak-turns": { type: "string", default: "10000" },
  },
});
const turns = Number(values.turns);
if (!Number.isInteger(turns) || turns < 10) throw new Error("--turns must be a whole number of at least 10");
const retrievalChunks = Number(values["retrieval-chunks"]);
if (!Number.isInteger(retrievalChunks) || retrievalChunks < 100) throw new Error("--retrieval-chunks must be a whole number of at least 100");
const sections = new Set(values.sections.split(",").map((section) => section.trim()));
for (const section of sections) if (!(SECTIONS as readonly string[]).includes(section)) throw new Error(`--sections: unknown section ${section} (known: ${SECTIONS.join(", ")})`);
const wanted = (section: Section) => sections.has(section);

const dir = mkdtempSync(join(tmpdir(), "stateful-agent-bench-"));
try {
  const result: Record<string, unknown> = { turns };
  // The path every real turn takes (HTTP, ChatOpenAI, a model over HTTP) against LangGraph alone.
  if (wanted("real_path")) result.real_path = await realPathBench(dir, { soakTurns: Number(values["soak-turns"]) });
  // The HTTP figures are read against the in-process floor, so asking for http runs in_process too.
  const inProcess = wanted("in_process") || wanted("http") ? await inProcessBench(dir, turns) : undefined;
  if (inProcess) result.in_process = inProcess;
  if (wanted("http") && inProcess) {
    const http = await httpBench(dir);
    const floorTurn = inProcess.per_turn_ms.floor_memory_saver.turn_10 as number;
    result.http = {
      ...http,
      latency_vs_floor_turn_10: Number((http.latency_1_thread_ms.mean / floorTurn).toFixed(2)),
      throughput_vs_floor: Number((http.throughput_16_threads_turns_per_s / inProcess.throughput_16_threads_turns_per_s.floor_memory_saver).toFixed(2)),
    };
  }
  if (wanted("first_token")) result.first_token = await firstTokenBench(dir);
  if (wanted("postgres")) result.postgres = await postgresBench(values["database-url"], Math.min(turns, 300));
  if (wanted("summary_memory")) result.summary_memory = await summaryBench(dir, Math.min(turns, 300));
  if (wanted("retrieval")) result.retrieval = await retrievalBench(dir, { chunks: retrievalChunks, databaseUrl: values["database-url"] });
  if (wanted("store")) result.store = await storeBench(dir, { databaseUrl: values["database-url"] });
  // Recall at 10k memories of one user, per store, and extraction calls over a 100-turn conversation.
  if (wanted("long_term_memory")) result.long_term_memory = await memoryBench(dir, { stores: await memoryBenchStores(dir, values["database-url"]) });
  if (wanted("storage_at_rest")) result.storage_at_rest = await operatorStorageBench(dir, values["database-url"]);
  // Search by text over 1,000 threads of 20 messages of one owner (beside another's 1,000).
  if (wanted("thread_search")) result.thread_search = await threadSearchBench(dir, values["database-url"]);
  console.log(JSON.stringify(result, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
