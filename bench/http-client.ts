/**
 * The client side of the HTTP benchmarks, run as a child process so that it does not share the
 * server's event loop and core: `http-client.ts <apiUrl> <latency|throughput|first-token|first-token-protocol|soak> [stubDelayMs|turns|rounds]`.
 * Prints one JSON object.
 */
import { Client } from "@langchain/langgraph-sdk";
import { inParallel, mean, median, ms, question } from "./workloads.js";

const [apiUrl, mode, delayArgument] = process.argv.slice(2);
const client = new Client({ apiUrl, callerOptions: { maxRetries: 0, maxConcurrency: 64 } });
const input = (text: string) => ({ messages: [{ role: "user", content: text }] });

async function latency() {
  const thread = await client.threads.create();
  for (let turn = 0; turn < 10; turn += 1) await client.runs.wait(thread.thread_id, "agent", { input: input(question(turn)) });
  const latencies: number[] = [];
  for (let turn = 0; turn < 100; turn += 1) {
    const started = performance.now();
    await client.runs.wait(thread.thread_id, "agent", { input: input(question(turn)) });
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  return { mean: ms(mean(latencies)), p50: ms(latencies[50]!), p95: ms(latencies[95]!) };
}

/**
 * Turns per second with 16 threads at once, 30 turns each after one untimed turn per thread;
 * with `rounds` > 1, the median of that many rounds on fresh threads (one round can be off by
 * a tenth on a busy machine).
 */
async function throughput(rounds: number) {
  const measured: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const threads = await Promise.all(Array.from({ length: 16 }, () => client.threads.create()));
    const turnsEach = 30;
    await Promise.all(threads.map((thread) => client.runs.wait(thread.thread_id, "agent", { input: input(question(0)) })));
    const elapsed = await inParallel(16, async (worker) => {
      for (let turn = 1; turn <= turnsEach; turn += 1) await client.runs.wait(threads[worker]!.thread_id, "agent", { input: input(question(turn)) });
    });
    measured.push(Number(((16 * turnsEach) / (elapsed / 1000)).toFixed(1)));
  }
  return { turns_per_s: median(measured), rounds: measured };
}

async function firstToken(delayMs: number) {
  const thread = await client.threads.create();
  const overheads: number[] = [];
  for (let attempt = 0; attempt < 25; attempt += 1) {
    const started = performance.now();
    let first: number | undefined;
    for await (const part of client.runs.stream(thread.thread_id, "agent", { input: input("Tell me something"), streamMode: "messages-tuple" })) {
      if (first === undefined && part.event === "messages" && (part.data as unknown as [{ content: string }])[0].content !== "") first = performance.now();
    }
    // The first five warm up connection pools and the JIT.
    if (attempt >= 5 && first !== undefined) overheads.push(first - started - delayMs);
  }
  return { mean: ms(mean(overheads)), max: ms(Math.max(...overheads)) };
}

/**
 * The same over the agent streaming protocol, as `@langchain/react`'s useStream does it: one
 * `ThreadStream` kept open on the thread, `run.start` for each turn, the first text delta of the
 * run's reply on its event stream.
 */
async function firstTokenProtocol(delayMs: number) {
  const thread = client.threads.stream({ assistantId: "agent" });
  let lastSeq = 0;
  let waiting: { afterSeq: number; token?: (at: number) => void; end: () => void } | undefined;
  thread.onEvent((event) => {
    const seq = event.seq ?? 0;
    lastSeq = Math.max(lastSeq, seq);
    if (!waiting || seq <= waiting.afterSeq) return;
    const data = event.params.data as { event?: string };
    if (event.method === "messages" && data.event === "content-block-delta") {
      waiting.token?.(performance.now());
      waiting.token = undefined;
    }
    if (event.method === "lifecycle" && event.params.namespace.length === 0 && data.event !== "running") waiting.end();
  });
  // Opens the messages stream the page's useStream reads tokens from.
  void thread.messages;
  const overheads: number[] = [];
  for (let attempt = 0; attempt < 25; attempt += 1) {
    let first: number | undefined;
    const ended = new Promise<void>((resolve) => {
      waiting = { afterSeq: lastSeq, token: (at) => (first = at), end: resolve };
    });
    const started = performance.now();
    await thread.run.start({ input: input("Tell me something") });
    await ended;
    if (attempt >= 5 && first !== undefined) overheads.push(first - started - delayMs);
  }
  await thread.close();
  return { mean: ms(mean(overheads)), max: ms(Math.max(...overheads)) };
}

/**
 * `turns` turns over new threads of 20 turns each, 16 at once: what a busy server sees over
 * time (the real-path bench reads the server's memory between calls).
 */
async function soak(turns: number) {
  const threadTurns = 20;
  let next = 0;
  const elapsed = await inParallel(16, async () => {
    while (next < turns) {
      const count = Math.min(threadTurns, turns - next);
      next += count;
      const thread = await client.threads.create();
      for (let turn = 1; turn <= count; turn += 1) await client.runs.wait(thread.thread_id, "agent", { input: input(question(turn)) });
    }
  });
  return { turns, turns_per_s: Number((turns / (elapsed / 1000)).toFixed(1)) };
}

const delay = Number(delayArgument ?? 0);
const result =
  mode === "latency"
    ? await latency()
    : mode === "throughput"
      ? await throughput(Math.max(1, Number(delayArgument ?? 1)))
      : mode === "soak"
        ? await soak(delay)
        : mode === "first-token-protocol"
          ? await firstTokenProtocol(delay)
          : await firstToken(delay);
console.log(JSON.stringify(result));
