/**
 * The path real turns take: the server over HTTP (`runs.wait` with the official SDK client, in a
 * process of its own), its model `ChatOpenAI` calling an OpenAI-compatible stub over HTTP (a
 * third process), at the default log level, every turn durable. Beside it, measured in the same
 * run, the floor: LangGraph alone in process, the same graph (`createAgent`) on `MemorySaver` with
 * the same `ChatOpenAI` calling the same stub, that is the same work less the HTTP API and
 * persistence. And the HTTP floor: that floor behind a bare HTTP server (http-floor.ts), which
 * tells what HTTP itself costs from what the server's own layers do. Prints latency on one
 * thread, throughput with 16 threads at once, the time to the first streamed token, the ratios,
 * and the server's RSS along 10,000 turns.
 */
import { HumanMessage } from "@langchain/core/messages";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { createFloorAgent } from "./floor-agent.js";
import { inParallel, mean, median, ms, question } from "./workloads.js";

const run = promisify(execFile);
const tsx = ["--import", import.meta.resolve("tsx")];
const CLIENT = new URL("./http-client.ts", import.meta.url).pathname;
const STUB = new URL("./model-stub.ts", import.meta.url).pathname;
const HTTP_FLOOR = new URL("./http-floor.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

/** The figures of one side (server or floor). */
export interface PathFigures {
  latency_1_thread_ms: { mean: number; p50: number; p95: number };
  /** The median of `throughput_rounds`. */
  throughput_16_threads_turns_per_s: number;
  throughput_rounds: number[];
  first_token_ms: { mean: number; max: number };
}

/** A child process that ends with the benchmark whatever happens. */
function child(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const started = spawn(command, args, { env, stdio: ["pipe", "pipe", "inherit"] });
  const kill = () => started.kill("SIGKILL");
  process.once("exit", kill);
  started.once("exit", () => process.off("exit", kill));
  return started;
}

/** CPU time `process` has used so far (all its threads), in ms. */
function cpuMsOf(process: ChildProcess): number {
  const fields = readFileSync(`/proc/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The first line of `process`'s output that `accept` turns into a value. */
async function lineOf<T>(output: NodeJS.ReadableStream, accept: (line: string) => T | undefined): Promise<T> {
  for await (const line of createInterface({ input: output })) {
    const value = accept(line);
    if (value !== undefined) return value;
  }
  throw new Error("the process ended before printing what was expected");
}

const parsed = (line: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};

async function startStub() {
  const stub = child(process.execPath, [...tsx, STUB]);
  const { baseUrl } = await lineOf(stub.stdout!, (line) => parsed(line) as { baseUrl: string } | undefined);
  const lines = createInterface({ input: stub.stdout! })[Symbol.asyncIterator]();
  return {
    baseUrl,
    /** Chat completions answered so far. */
    calls: async () => {
      stub.stdin!.write("\n");
      return ((parsed((await lines.next()).value as string) ?? {}) as { calls: number }).calls;
    },
    close: async () => {
      stub.kill("SIGKILL");
      await once(stub, "exit");
    },
  };
}

/** Compiles the server as `npm run build` does, so the bench measures what `npm start` runs. */
export async function buildRelease(): Promise<void> {
  await run(process.execPath, [join(ROOT, "scripts/build.mjs")], { cwd: ROOT, maxBuffer: 1 << 24 });
}

/** The server as an operator runs it (`node dist/main.js`): its own process, the default log level, its own database. */
async function startServer(baseUrl: string, dataDir: string) {
  const env = { ...process.env, OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: "bench", MODEL: "gpt-4o-mini", DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info" };
  const server = child(process.execPath, [join(ROOT, "dist/main.js")], env);
  const port = await lineOf(server.stdout!, (line) => {
    const entry = parsed(line);
    return typeof entry?.port === "number" && String(entry.msg).startsWith("listening") ? entry.port : undefined;
  });
  // The request log goes on to stdout, as it would to a collector: read and dropped.
  server.stdout!.resume();
  return {
    apiUrl: `http://127.0.0.1:${port}`,
    /** CPU time the server process has used so far (all its threads), in ms. */
    cpuMs: () => cpuMsOf(server),
    /**
     * The server's memory by its own account (its `/metrics`), in MB: V8's heap as committed
     * (`heap_total`) and in use (`heap_used`, garbage not yet collected included), and memory
     * outside it that V8 knows of (`external`: buffers, zlib); RSS less these is native memory.
     */
    heapMb: async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const megabytes = (name: string) => Number((Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0) / 2 ** 20).toFixed(1));
      return { heap_total: megabytes("nodejs_heap_size_total_bytes"), heap_used: megabytes("nodejs_heap_size_used_bytes"), external: megabytes("nodejs_external_memory_bytes") };
    },
    /** Resident memory of the server process, in MB. */
    rssMb: () => Number((Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))?.[1] ?? 0) / 1024).toFixed(1)),
    close: async () => {
      server.kill("SIGTERM");
      await once(server, "exit");
    },
  };
}

/** The HTTP floor (http-floor.ts): the floor's agent behind a bare HTTP server, in its own process. */
async function startHttpFloor(baseUrl: string) {
  const floor = child(process.execPath, [...tsx, HTTP_FLOOR, baseUrl]);
  const { port } = await lineOf(floor.stdout!, (line) => parsed(line) as { port: number } | undefined);
  return {
    apiUrl: `http://127.0.0.1:${port}`,
    cpuMs: () => cpuMsOf(floor),
    /** Ends it, once: it is closed as soon as its rounds are done, and again should they fail. */
    close: async () => {
      if (floor.exitCode !== null || floor.signalCode !== null) return;
      const exited = once(floor, "exit");
      floor.kill("SIGKILL");
      await exited;
    },
  };
}

async function client<T>(apiUrl: string, ...args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, [...tsx, CLIENT, apiUrl, ...args], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as T;
}

/** The floor: the same graph and model in process, on MemorySaver; the same turns as the client's. */
function createFloor(baseUrl: string) {
  const { agent, turn } = createFloorAgent(baseUrl);
  return {
    /** 10 turns of warm-up, then 100 timed, on one thread. */
    async latency(): Promise<PathFigures["latency_1_thread_ms"]> {
      for (let index = 0; index < 10; index += 1) await turn("latency", question(index));
      const latencies: number[] = [];
      for (let index = 0; index < 100; index += 1) {
        const started = performance.now();
        await turn("latency", question(index));
        latencies.push(performance.now() - started);
      }
      latencies.sort((a, b) => a - b);
      return { mean: ms(mean(latencies)), p50: ms(latencies[50]!), p95: ms(latencies[95]!) };
    },
    /** One round as the client runs it: 16 fresh threads, one untimed turn each, then 30 each at once. */
    async throughputRound(round: number): Promise<number> {
      await Promise.all(Array.from({ length: 16 }, (_, worker) => turn(`parallel-${round}-${worker}`, question(0))));
      const turnsEach = 30;
      const elapsed = await inParallel(16, async (worker) => {
        for (let index = 1; index <= turnsEach; index += 1) await turn(`parallel-${round}-${worker}`, question(index));
      });
      return Number(((16 * turnsEach) / (elapsed / 1000)).toFixed(1));
    },
    async firstToken(): Promise<PathFigures["first_token_ms"]> {
      const firstTokens: number[] = [];
      for (let attempt = 0; attempt < 25; attempt += 1) {
        const started = performance.now();
        let first: number | undefined;
        for await (const [chunk] of await agent.stream({ messages: [new HumanMessage("Tell me something")] }, { configurable: { thread_id: "first-token" }, streamMode: "messages" })) {
          if (first === undefined && typeof chunk.content === "string" && chunk.content !== "") first = performance.now();
        }
        if (attempt >= 5 && first !== undefined) firstTokens.push(first - started);
      }
      return { mean: ms(mean(firstTokens)), max: ms(Math.max(...firstTokens)) };
    },
  };
}

/**
 * Rounds of the throughput measurement on each side; the median is the figure. On a shared
 * 2-core host one round of either side can be off by a tenth or more: five make the median
 * steadier than three did.
 */
const THROUGHPUT_ROUNDS = 5;

/** Turns of the soak, in steps, with the server's RSS after each. */
const SOAK_STEPS = 4;

export async function realPathBench(dir: string, options: { soakTurns: number }) {
  await buildRelease();
  const stub = await startStub();
  try {
    const floor = createFloor(stub.baseUrl);
    const server = await startServer(stub.baseUrl, join(dir, "real-path"));
    const httpFloor = await startHttpFloor(stub.baseUrl);
    try {
      // Each measurement on both sides one after the other, and the throughput rounds taken in
      // turns, so that a machine whose speed drifts (a shared host) moves both alike.
      let callsBefore = await stub.calls();
      const floorLatency = await floor.latency();
      const floorCallsPerTurn = ((await stub.calls()) - callsBefore) / 110;
      callsBefore = await stub.calls();
      const latency = await client<PathFigures["latency_1_thread_ms"]>(server.apiUrl, "latency");
      const callsPerTurn = ((await stub.calls()) - callsBefore) / 110;
      const httpFloorLatency = await client<PathFigures["latency_1_thread_ms"]>(httpFloor.apiUrl, "latency");
      const floorRounds: number[] = [];
      const httpFloorRounds: number[] = [];
      const rounds: number[] = [];
      // CPU per turn (all threads: GC and the libuv pool too) says where a throughput gap comes from.
      let floorCpuMs = 0;
      let httpFloorCpuMs = 0;
      let serverCpuMs = 0;
      /** Turns per second of one round of the client against `apiUrl`, and the CPU `cpuMs` says it took. */
      const overHttp = async (apiUrl: string, cpuMs: () => number) => {
        const before = cpuMs();
        const { turns_per_s } = await client<{ turns_per_s: number }>(apiUrl, "throughput");
        return { turnsPerSecond: turns_per_s, cpu: cpuMs() - before };
      };
      // One round a side first, not counted: the first round with 16 threads at once ran a
      // fifth slower than the next on the server (its JIT and heap still growing into that load)
      // against a tenth on the floor; a server runs warm, so each side is measured warm.
      await floor.throughputRound(-1);
      await client(httpFloor.apiUrl, "throughput");
      await client(server.apiUrl, "throughput");
      for (let round = 0; round < THROUGHPUT_ROUNDS; round += 1) {
        const floorCpu = process.cpuUsage();
        floorRounds.push(await floor.throughputRound(round));
        const used = process.cpuUsage(floorCpu);
        floorCpuMs += (used.user + used.system) / 1000;
        const overBareHttp = await overHttp(httpFloor.apiUrl, httpFloor.cpuMs);
        httpFloorRounds.push(overBareHttp.turnsPerSecond);
        httpFloorCpuMs += overBareHttp.cpu;
        const ourRound = await overHttp(server.apiUrl, server.cpuMs);
        rounds.push(ourRound.turnsPerSecond);
        serverCpuMs += ourRound.cpu;
      }
      await httpFloor.close();
      // Each round: 16 untimed turns and 16 × 30 timed ones.
      const cpuPerTurn = (total: number) => Number((total / (THROUGHPUT_ROUNDS * 16 * 31)).toFixed(2));
      const floorFirstToken = await floor.firstToken();
      const firstToken = await client<{ mean: number; max: number }>(server.apiUrl, "first-token", "0");
      const rss: Record<string, number> = { after_warm_up: server.rssMb() };
      const heap: Record<string, Awaited<ReturnType<typeof server.heapMb>>> = { after_warm_up: await server.heapMb() };
      const step = Math.ceil(options.soakTurns / SOAK_STEPS);
      for (let done = step; done <= step * SOAK_STEPS; done += step) {
        await client(server.apiUrl, "soak", String(step));
        rss[`after_${done}_turns`] = server.rssMb();
        heap[`after_${done}_turns`] = await server.heapMb();
      }
      const ours: PathFigures = { latency_1_thread_ms: latency, throughput_16_threads_turns_per_s: median(rounds), throughput_rounds: rounds, first_token_ms: firstToken };
      const floorFigures: PathFigures = {
        latency_1_thread_ms: floorLatency,
        throughput_16_threads_turns_per_s: median(floorRounds),
        throughput_rounds: floorRounds,
        first_token_ms: floorFirstToken,
      };
      const httpFloorThroughput = median(httpFloorRounds);
      return {
        server: ours,
        floor: floorFigures,
        http_floor: { latency_1_thread_ms: httpFloorLatency, throughput_16_threads_turns_per_s: httpFloorThroughput, throughput_rounds: httpFloorRounds },
        latency_ratio: Number((ours.latency_1_thread_ms.mean / floorFigures.latency_1_thread_ms.mean).toFixed(2)),
        throughput_ratio: Number((ours.throughput_16_threads_turns_per_s / floorFigures.throughput_16_threads_turns_per_s).toFixed(2)),
        // Each server round against the floor round taken just before it: the spread says how
        // far one run of the bench can be trusted.
        throughput_round_ratios: rounds.map((value, round) => Number((value / floorRounds[round]!).toFixed(2))),
        // What the server's own layers (routing, validation, logs, persistence, run bookkeeping)
        // cost over LangGraph behind a bare HTTP server: the rest of `throughput_ratio` is HTTP's.
        throughput_ratio_to_http_floor: Number((ours.throughput_16_threads_turns_per_s / httpFloorThroughput).toFixed(2)),
        latency_ratio_to_http_floor: Number((ours.latency_1_thread_ms.mean / httpFloorLatency.mean).toFixed(2)),
        first_token_ratio: Number((ours.first_token_ms.mean / floorFigures.first_token_ms.mean).toFixed(2)),
        goals: { latency_ratio_at_most: 1.15, throughput_ratio_at_least: 0.9 },
        model_calls_per_turn: { server: Number(callsPerTurn.toFixed(2)), floor: Number(floorCallsPerTurn.toFixed(2)) },
        cpu_ms_per_turn_16_threads: { server: cpuPerTurn(serverCpuMs), floor: cpuPerTurn(floorCpuMs), http_floor: cpuPerTurn(httpFloorCpuMs) },
        server_rss_mb: rss,
        server_heap_mb: heap,
      };
    } finally {
      await Promise.all([server.close(), httpFloor.close()]);
    }
  } finally {
    await stub.close();
  }
}
