/**
 * What long-term memory costs: the latency recall adds to a turn (searching 10,000 memories of one
 * user and fitting the best into the prompt), per store; and the extraction calls a 100-turn
 * conversation makes, through ChatOpenAI and the stub model. The stores are parameters, so the
 * SQLite (full-text) and PostgreSQL stores can be measured as soon as they exist; LangGraph's
 * InMemoryStore stands in for them until then.
 */
import { Embeddings } from "@langchain/core/embeddings";
import { HumanMessage } from "@langchain/core/messages";
import { type BaseStore, InMemoryStore, type PutOperation } from "@langchain/langgraph-checkpoint";
import { createAgentFromConfig } from "../src/composition/agent-from-config.js";
import { memoryWritesSettled } from "../src/graph/agent.js";
import { memoryNamespace } from "../src/graph/long-term-memory.js";
import { promptWithMemories } from "../src/graph/memory-recall.js";
import { buildPrompt } from "../src/graph/model-node.js";
import type { AgentStateValue } from "../src/graph/state.js";
import { createTokenCounter } from "../src/graph/token-counter.js";
import { makeConfig } from "../tests/support/fixtures.js";
import { isExtractionRequest, startOpenAiStub } from "../tests/support/openai-stub.js";
import { HashingEmbeddings } from "./retrieval.js";
import { mean, messageTexts, ms } from "./workloads.js";

/** A store to measure: opened empty, closed after. */
export interface MemoryBenchStore {
  name: string;
  open(): Promise<{ store: BaseStore; close(): Promise<void> }>;
}

/** The retrieval bench's deterministic local embeddings, as the LangChain class InMemoryStore takes. */
class LocalEmbeddings extends Embeddings {
  readonly #hashing = new HashingEmbeddings(256);
  constructor() {
    super({});
  }
  embedDocuments(texts: string[]) {
    return this.#hashing.embedDocuments(texts);
  }
  embedQuery(text: string) {
    return this.#hashing.embedQuery(text);
  }
}

/** The stand-ins: InMemoryStore without an index (no ranking), and with deterministic local embeddings (vector search). */
export const IN_MEMORY_STORES: MemoryBenchStore[] = [
  { name: "in_memory", open: async () => ({ store: new InMemoryStore(), close: async () => {} }) },
  {
    name: "in_memory_vectors",
    open: async () => ({ store: new InMemoryStore({ index: { dims: 256, embeddings: new LocalEmbeddings(), fields: ["text"] } }), close: async () => {} }),
  },
];

const SUBJECTS = ["cooking", "hiking", "chess", "gardening", "jazz", "cycling", "python", "painting", "sailing", "astronomy", "baking", "running", "poetry", "yoga", "photography"];
const STATEMENTS = ["enjoys", "is learning", "wants to get better at", "dislikes", "teaches", "reads about", "spends weekends on", "has a goal in"];

/** The i-th of 10,000 varied one-sentence memories. */
const memoryText = (index: number) =>
  `The user ${STATEMENTS[index % STATEMENTS.length]} ${SUBJECTS[Math.floor(index / STATEMENTS.length) % SUBJECTS.length]} (note ${index}), since year ${1990 + (index % 35)}.`;

/** p50, p95 and mean of `times`, in ms. */
function latency(times: number[]) {
  const sorted = [...times].sort((left, right) => left - right);
  const at = (share: number) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] as number;
  return { p50: ms(at(0.5)), p95: ms(at(0.95)), mean: ms(mean(times)) };
}

/** Recall's time per model call at `memories` memories for one user, on one store. */
async function recallLatency(target: MemoryBenchStore, memories: number, queries: number) {
  const { store, close } = await target.open();
  try {
    const namespace = memoryNamespace("bench-user");
    const filling = performance.now();
    for (let start = 0; start < memories; start += 500) {
      const puts: PutOperation[] = [];
      for (let index = start; index < Math.min(memories, start + 500); index += 1) puts.push({ namespace, key: `memory_${index}`, value: { text: memoryText(index) } });
      await store.batch(puts);
    }
    const fillMs = performance.now() - filling;
    const counter = createTokenCounter("gpt-4o-mini");
    const text = messageTexts(11, 200);
    const state = { messages: [new HumanMessage("Hello")], windowStart: 0, summary: null } as AgentStateValue;
    const run = { store, user: "bench-user", recallK: 5, counter, budget: 15_360, noteTurn: () => {} };
    const times: number[] = [];
    const searchTimes: number[] = [];
    let recalled = 0;
    for (let index = 0; index < queries + 10; index += 1) {
      const query = `${text()} What do you think about ${SUBJECTS[index % SUBJECTS.length]}?`;
      const started = performance.now();
      const prompt = await promptWithMemories(run, query, (section) => buildPrompt(state, "You are a helpful assistant.", true, section));
      const elapsed = performance.now() - started;
      const searching = performance.now();
      await store.search(namespace, { query, limit: run.recallK });
      // The first calls warm caches (tokenizer, statements): not counted.
      if (index >= 10) {
        times.push(elapsed);
        searchTimes.push(performance.now() - searching);
      }
      recalled = prompt[0]?.text.split("\n- ").length ?? 1;
    }
    return { memories, fill_ms: Math.round(fillMs), recall_ms: latency(times), store_search_ms: latency(searchTimes), memories_in_prompt: recalled - 1 };
  } finally {
    await close();
  }
}

/** A 100-turn chat of the usual mix: a few explicit facts, some personal remarks, mostly questions. */
export function conversation(turns: number): string[] {
  const explicit = ["Hi, my name is Ada.", "Call me Ada, by the way.", "I prefer short answers.", "Please remember that I am vegetarian.", "From now on, answer in British English."];
  const personal = ["I work as a nurse in Lyon.", "I have two cats at home.", "I'm training for a marathon.", "My daughter starts school next month.", "I live near the river.", "I like jazz in the evening."];
  const questions = [
    "What is the capital of Australia?",
    "How do rainbows form?",
    "Explain photosynthesis in two sentences.",
    "What is a good stretch for the lower back?",
    "Can you suggest a name for a bakery?",
    "How long should I boil an egg?",
    "What does HTTP 409 mean?",
    "Summarise the plot of Hamlet.",
    "Why is the sky blue?",
    "How many moons does Mars have?",
  ];
  return Array.from({ length: turns }, (_, turn) => {
    if (turn % 20 === 0) return explicit[(turn / 20) % explicit.length] as string;
    if (turn % 7 === 3) return personal[Math.floor(turn / 7) % personal.length] as string;
    return questions[turn % questions.length] as string;
  });
}

/**
 * Extraction calls per turn over `turns` turns, and a turn's time with memory on and off: two
 * agents take the same turns alternately, so both see the same machine load.
 */
async function extractionCost(dir: string, turns: number) {
  const stub = await startOpenAiStub();
  const variants = [true, false].map((memory) => ({ memory, times: [] as number[], ...createAgentFromConfig(makeConfig(stub, `${dir}/memory-${memory ? "on" : "off"}`, { LONG_TERM_MEMORY: "on" })) }));
  const store = new InMemoryStore();
  try {
    for (const [turn, text] of conversation(turns).entries()) {
      for (const { agent, memory, times } of variants) {
        const started = performance.now();
        await agent.invoke({ messages: [new HumanMessage(text)] }, { configurable: { thread_id: "bench", user_id: memory ? "ada" : "bob", long_term_memory: memory }, store });
        // The first turns warm caches; extraction runs after the reply and is waited for apart.
        if (turn >= 10) times.push(performance.now() - started);
        await memoryWritesSettled(agent);
      }
    }
    const extractions = stub.requests.filter((request) => isExtractionRequest(request.body)).length;
    return {
      turns,
      extraction_calls_per_turn: Number((extractions / turns).toFixed(3)),
      goal_extraction_calls_per_turn: 0.3,
      memories_kept: (await store.search(memoryNamespace("ada"), { limit: 100 })).length,
      turn_ms_p50_memory_on: latency(variants[0]!.times).p50,
      turn_ms_p50_memory_off: latency(variants[1]!.times).p50,
    };
  } finally {
    for (const { checkpointer } of variants) await checkpointer.close();
    await stub.close();
  }
}

/** The memory section: recall latency per store at `memories` memories, and extraction over `turns` turns. */
export async function memoryBench(dir: string, options: { memories?: number; turns?: number; stores?: MemoryBenchStore[] } = {}) {
  const memories = options.memories ?? 10_000;
  const recall: Record<string, unknown> = {};
  for (const target of options.stores ?? IN_MEMORY_STORES) recall[target.name] = await recallLatency(target, memories, 200);
  return { recall, extraction: await extractionCost(dir, options.turns ?? 100) };
}
