/**
 * In-process cost of a turn with a model that answers at once: our SQLite storage against the
 * floor (the same graph on LangGraph's MemorySaver) and, for storage size, the stock SqliteSaver.
 */
import { HumanMessage } from "@langchain/core/messages";
import { MemorySaver } from "@langchain/langgraph";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { SqliteSaver } from "@langchain/langgraph-checkpoint-sqlite";
import { statSync } from "node:fs";
import { join } from "node:path";
import { createAgent } from "../src/graph/agent.js";
import { SqliteCheckpointer } from "../src/storage/sqlite/checkpointer.js";
import { conversationTextBytes, inParallel, instantModel, mean, ms, question } from "./workloads.js";

const agentOn = (checkpointer: BaseCheckpointSaver) =>
  createAgent({ model: instantModel(), checkpointer, contextTokens: 128_000, maxOutputTokens: 1024 });

/** Time of every turn of one long conversation. */
export async function conversation(checkpointer: BaseCheckpointSaver, turns: number, threadId = "bench"): Promise<number[]> {
  const agent = agentOn(checkpointer);
  const config = { configurable: { thread_id: threadId } };
  const perTurn: number[] = [];
  for (let turn = 1; turn <= turns; turn += 1) {
    const started = performance.now();
    await agent.invoke({ messages: [new HumanMessage(question(turn))] }, config);
    perTurn.push(performance.now() - started);
  }
  return perTurn;
}

/** Mean of the ten turns ending at `mark`, so one GC pause does not decide a figure. */
export const around = (perTurn: readonly number[], mark: number) => ms(mean(perTurn.slice(Math.max(0, mark - 10), mark)));

/** Turns per second of `threads` conversations of `turns` turns each, all at once. */
export async function throughput(checkpointer: BaseCheckpointSaver, threads: number, turns: number): Promise<number> {
  const agent = agentOn(checkpointer);
  const elapsed = await inParallel(threads, async (worker) => {
    const config = { configurable: { thread_id: `parallel-${worker}` } };
    for (let turn = 1; turn <= turns; turn += 1) await agent.invoke({ messages: [new HumanMessage(question(turn))] }, config);
  });
  return Number(((threads * turns) / (elapsed / 1000)).toFixed(1));
}

/** Bytes of the database file (after folding the WAL in) against the raw text of the messages. */
export function storageRatio(path: string, db: { pragma(source: string): unknown }, turns: number) {
  db.pragma("wal_checkpoint(TRUNCATE)");
  const databaseBytes = statSync(path).size;
  const rawTextBytes = conversationTextBytes(turns);
  return { database_bytes: databaseBytes, raw_text_bytes: rawTextBytes, bytes_per_raw_byte: Number((databaseBytes / rawTextBytes).toFixed(2)) };
}

export async function inProcessBench(dir: string, turns: number) {
  const marks = [10, 100, 300, 1000].filter((mark) => mark <= turns);
  // Warm-up: load the tokenizer ranks and let the JIT settle before anything is timed.
  await conversation(new MemorySaver(), 20, "warm-up");

  const floor = await conversation(new MemorySaver(), turns);
  const path = join(dir, "ours.sqlite");
  const ours = new SqliteCheckpointer(path);
  const perTurn = await conversation(ours, turns);
  const storage: Record<string, unknown> = {};
  // Sizes at 300 turns and at the end: a second database that stops at 300.
  if (turns > 300) {
    const at300Path = join(dir, "ours-300.sqlite");
    const at300 = new SqliteCheckpointer(at300Path);
    await conversation(at300, 300);
    storage.turns_300 = storageRatio(at300Path, at300.db, 300);
    await at300.close();
  }
  storage[`turns_${turns}`] = storageRatio(path, ours.db, turns);
  await ours.close();

  const stockTurns = Math.min(turns, 300);
  const stockPath = join(dir, "stock.sqlite");
  const stock = SqliteSaver.fromConnString(stockPath);
  const stockPerTurn = await conversation(stock, stockTurns);
  const stockStorage = storageRatio(stockPath, stock.db, stockTurns);
  stock.db.close();

  const floorThroughput = await throughput(new MemorySaver(), 16, 20);
  const throughputSaver = new SqliteCheckpointer(join(dir, "throughput.sqlite"));
  const oursThroughput = await throughput(throughputSaver, 16, 20);
  await throughputSaver.close();

  return {
    per_turn_ms: {
      floor_memory_saver: Object.fromEntries(marks.map((mark) => [`turn_${mark}`, around(floor, mark)])),
      ours_sqlite: Object.fromEntries(marks.map((mark) => [`turn_${mark}`, around(perTurn, mark)])),
      stock_sqlite_saver: Object.fromEntries(marks.filter((mark) => mark <= stockTurns).map((mark) => [`turn_${mark}`, around(stockPerTurn, mark)])),
    },
    ratios: {
      ours_turn_10_vs_floor: Number((around(perTurn, 10) / around(floor, 10)).toFixed(2)),
      ours_last_turn_vs_turn_10: Number((around(perTurn, turns) / around(perTurn, 10)).toFixed(2)),
    },
    storage: { ours: storage, [`stock_sqlite_saver_turns_${stockTurns}`]: stockStorage },
    throughput_16_threads_turns_per_s: { floor_memory_saver: floorThroughput, ours_sqlite: oursThroughput },
  };
}
