/**
 * `npm run bench [-- --turns N] [--retrieval-chunks N]`: prints one JSON object with the figures
 * of the storage and latency issue, the floor measured in the same run beside them, and of
 * retrieval at 10k chunks. A benchmark, not a test: the numbers depend on the machine; the ratios
 * are what to compare.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { firstTokenBench, httpBench } from "./http.js";
import { inProcessBench } from "./in-process.js";
import { postgresBench } from "./postgres.js";
import { retrievalBench } from "./retrieval.js";
import { summaryBench } from "./summary.js";

const { values } = parseArgs({
  options: {
    turns: { type: "string", default: "1000" },
    // PostgreSQL to measure too; a machine without one reports the section as skipped.
    "database-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/test" },
    // Chunks indexed and searched by the retrieval section (the figure).
    "retrieval-chunks": { type: "string", default: "10000" },
  },
});
const turns = Number(values.turns);
if (!Number.isInteger(turns) || turns < 10) throw new Error("--turns must be a whole number of at least 10");
const retrievalChunks = Number(values["retrieval-chunks"]);
if (!Number.isInteger(retrievalChunks) || retrievalChunks < 100) throw new Error("--retrieval-chunks must be a whole number of at least 100");

const dir = mkdtempSync(join(tmpdir(), "stateful-agent-bench-"));
try {
  const inProcess = await inProcessBench(dir, turns);
  const http = await httpBench(dir);
  const firstToken = await firstTokenBench(dir);
  const postgres = await postgresBench(values["database-url"], Math.min(turns, 300));
  const summaryMemory = await summaryBench(dir, Math.min(turns, 300));
  const retrieval = await retrievalBench(dir, { chunks: retrievalChunks, databaseUrl: values["database-url"] });
  const floorTurn = inProcess.per_turn_ms.floor_memory_saver.turn_10 as number;
  console.log(
    JSON.stringify(
      {
        turns,
        in_process: inProcess,
        http: {
          ...http,
          latency_vs_floor_turn_10: Number((http.latency_1_thread_ms.mean / floorTurn).toFixed(2)),
          throughput_vs_floor: Number((http.throughput_16_threads_turns_per_s / inProcess.throughput_16_threads_turns_per_s.floor_memory_saver).toFixed(2)),
        },
        first_token: firstToken,
        postgres,
        summary_memory: summaryMemory,
        retrieval,
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
