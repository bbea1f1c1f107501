/**
 * The HTTP path: `runs.wait` through the server and the official SDK client (latency on one
 * thread, throughput with 16 threads), and the time to the first streamed token over the model's
 * own delay, with ChatOpenAI talking to the test stub.
 */
import { Client } from "@langchain/langgraph-sdk";
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig } from "../src/config.js";
import { createAgent } from "../src/graph/agent.js";
import { createAgentFromConfig } from "../src/graph/from-config.js";
import { SqliteCheckpointer } from "../src/graph/sqlite-checkpointer.js";
import { type AppDeps, createApp, createServerDeps } from "../src/server/create-app.js";
import { startOpenAiStub } from "../tests/support/openai-stub.js";
import { TEXT, inParallel, instantModel, mean, ms } from "./workloads.js";

async function serve(deps: AppDeps): Promise<{ client: Client; close: () => Promise<void> }> {
  const server: Server = createApp(deps).listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = new Client({ apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, callerOptions: { maxRetries: 0, maxConcurrency: 64 } });
  return {
    client,
    close: async () => {
      await deps.runs.shutdown(0);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const input = (text: string) => ({ messages: [{ role: "user", content: text }] });

export async function httpBench(dir: string) {
  const logger = pino({ level: "silent" });
  const checkpointer = new SqliteCheckpointer(join(dir, "http.sqlite"));
  const agent = createAgent({ model: instantModel(), checkpointer, contextTokens: 128_000 });
  const { client, close } = await serve(await createServerDeps({ agent, checkpointer, logger }));

  const thread = await client.threads.create();
  for (let turn = 0; turn < 10; turn += 1) await client.runs.wait(thread.thread_id, "agent", { input: input(TEXT) });
  const latencies: number[] = [];
  for (let turn = 0; turn < 100; turn += 1) {
    const started = performance.now();
    await client.runs.wait(thread.thread_id, "agent", { input: input(TEXT) });
    latencies.push(performance.now() - started);
  }
  const threads = await Promise.all(Array.from({ length: 16 }, () => client.threads.create()));
  const turnsEach = 20;
  const elapsed = await inParallel(16, async (worker) => {
    for (let turn = 0; turn < turnsEach; turn += 1) await client.runs.wait(threads[worker]!.thread_id, "agent", { input: input(TEXT) });
  });
  await close();
  await checkpointer.close();
  latencies.sort((a, b) => a - b);
  return {
    latency_1_thread_ms: { mean: ms(mean(latencies)), p50: ms(latencies[50]!), p95: ms(latencies[95]!) },
    throughput_16_threads_turns_per_s: Number(((16 * turnsEach) / (elapsed / 1000)).toFixed(1)),
  };
}

/** Time from sending a streamed run to its first token, less the delay the model itself takes. */
export async function firstTokenBench(dir: string) {
  const stub = await startOpenAiStub();
  const config = loadConfig({ OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: "bench", DATA_DIR: join(dir, "first-token"), MODEL_MAX_RETRIES: "0", LOG_LEVEL: "silent" });
  const { agent, checkpointer } = createAgentFromConfig(config);
  const { client, close } = await serve(await createServerDeps({ agent, checkpointer, logger: pino({ level: "silent" }) }));
  const delayMs = 50;
  const overheads: number[] = [];
  const thread = await client.threads.create();
  for (let attempt = 0; attempt < 25; attempt += 1) {
    stub.inject({ kind: "delay", ms: delayMs });
    const started = performance.now();
    let first: number | undefined;
    for await (const part of client.runs.stream(thread.thread_id, "agent", { input: input("Tell me something"), streamMode: "messages-tuple" })) {
      if (first === undefined && part.event === "messages" && (part.data as unknown as [{ content: string }])[0].content !== "") first = performance.now();
    }
    // The first five warm up the connection pools and the JIT.
    if (attempt >= 5 && first !== undefined) overheads.push(first - started - delayMs);
  }
  await close();
  await checkpointer.close();
  await stub.close();
  return { stub_delay_ms: delayMs, first_token_overhead_ms: { mean: ms(mean(overheads)), max: ms(Math.max(...overheads)) } };
}
