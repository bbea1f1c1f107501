/**
 * `npm run bench [-- --turns N]`: what a conversation turn costs in process, with a model that
 * answers at once, on our SQLite storage against the floor (the same graph on MemorySaver).
 * Prints one JSON object. A benchmark, not a test: numbers vary with the machine.
 */
import { HumanMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { MemorySaver } from "@langchain/langgraph";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createAgent } from "../src/graph/agent.js";
import { SqliteCheckpointer } from "../src/graph/sqlite-checkpointer.js";

const { values } = parseArgs({ options: { turns: { type: "string", default: "300" } } });
const TURNS = Number(values.turns);
const MARKS = [10, 100, 300, 1000].filter((mark) => mark <= TURNS);
/** About 560 characters per message, as in the storage issue's measurements. */
const TEXT = "The quick brown fox jumps over the lazy dog while the agent remembers everything. ".repeat(7);

async function conversation(checkpointer: BaseCheckpointSaver, turns = TURNS) {
  const agent = createAgent({
    model: new FakeListChatModel({ responses: [TEXT] }),
    checkpointer,
    contextTokens: 128_000,
    maxOutputTokens: 1024,
  });
  const config = { configurable: { thread_id: "bench" } };
  const perTurnMs: number[] = [];
  for (let turn = 1; turn <= turns; turn += 1) {
    const started = performance.now();
    await agent.invoke({ messages: [new HumanMessage(`${turn}: ${TEXT}`)] }, config);
    perTurnMs.push(performance.now() - started);
  }
  // Mean of the ten turns ending at each mark, so one GC pause does not decide a figure.
  const around = (mark: number) => perTurnMs.slice(Math.max(0, mark - 10), mark).reduce((a, b) => a + b, 0) / Math.min(10, mark);
  return Object.fromEntries(MARKS.filter((mark) => mark <= turns).map((mark) => [`turn_${mark}_ms`, Number(around(mark).toFixed(2))]));
}

const dir = mkdtempSync(join(tmpdir(), "stateful-agent-bench-"));
try {
  // Warm-up: load the tokenizer ranks and let the JIT settle before anything is timed.
  await conversation(new MemorySaver(), 20);
  const floor = await conversation(new MemorySaver());
  const saver = new SqliteCheckpointer(join(dir, "bench.sqlite"));
  const sqlite = await conversation(saver);
  saver.db.pragma("wal_checkpoint(TRUNCATE)");
  await saver.close();
  const databaseBytes = statSync(join(dir, "bench.sqlite")).size;
  const rawTextBytes = Buffer.byteLength(TEXT) * 2 * TURNS;
  const ratios = Object.fromEntries(
    Object.keys(floor).map((key) => [key.replace("_ms", "_vs_floor"), Number((sqlite[key]! / floor[key]!).toFixed(2))]),
  );
  console.log(
    JSON.stringify(
      {
        turns: TURNS,
        floor_memory_saver: floor,
        sqlite,
        ratios,
        storage: { database_bytes: databaseBytes, raw_text_bytes: rawTextBytes, bytes_per_raw_byte: Number((databaseBytes / rawTextBytes).toFixed(1)) },
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
