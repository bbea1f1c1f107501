/**
 * What summary memory costs per turn, against window mode, on one long conversation through
 * ChatOpenAI and the stub model: model calls, prompt and completion tokens, and time.
 */
import { HumanMessage } from "@langchain/core/messages";
import { createAgentFromConfig } from "../src/composition/agent-from-config.js";
import { SUMMARY_INSTRUCTIONS } from "../src/graph/summary.js";
import { createTokenCounter } from "../src/graph/token-counter.js";
import { countRequestTokens } from "../tests/support/count-tokens.js";
import { makeConfig } from "../tests/support/fixtures.js";
import { type ChatRequest, startOpenAiStub, wireText } from "../tests/support/openai-stub.js";
import { TEXT, mean, ms } from "./workloads.js";

const BUDGET = { CONTEXT_TOKENS: "4096", MAX_OUTPUT_TOKENS: "512", SUMMARY_TOKENS: "256" };
const counter = createTokenCounter("gpt-4o-mini");
const isSummary = (request: ChatRequest) => wireText(request.messages[0]!).startsWith(SUMMARY_INSTRUCTIONS);
/** A summary near its budget (about 200 tokens), and a reply of about 110 tokens. */
const SUMMARY_TEXT = "The user asked about many topics and the assistant answered each. ".repeat(17);

/** Per-turn figures of one mode over `turns` turns. */
async function measure(dir: string, mode: "window" | "summary", turns: number) {
  const stub = await startOpenAiStub();
  stub.respondWith((request) => (isSummary(request) ? SUMMARY_TEXT : TEXT));
  const { agent, checkpointer } = createAgentFromConfig(makeConfig(stub, `${dir}/${mode}`, { ...BUDGET, MEMORY_MODE: mode }));
  const times: number[] = [];
  try {
    for (let turn = 1; turn <= turns; turn += 1) {
      const started = performance.now();
      await agent.invoke({ messages: [new HumanMessage(`${turn}: ${TEXT}`)] }, { configurable: { thread_id: "bench" } });
      times.push(performance.now() - started);
    }
  } finally {
    await checkpointer.close();
    await stub.close();
  }
  const requests = stub.requests.map((request) => request.body);
  const summaries = requests.filter(isSummary);
  const replyTokens = (request: ChatRequest) => counter.countText(isSummary(request) ? SUMMARY_TEXT : TEXT);
  const perTurn = (value: number) => Number((value / turns).toFixed(2));
  return {
    model_calls_per_turn: perTurn(requests.length),
    summary_calls_per_turn: perTurn(summaries.length),
    prompt_tokens_per_turn: perTurn(requests.reduce((sum, request) => sum + countRequestTokens(request.messages), 0)),
    completion_tokens_per_turn: perTurn(requests.reduce((sum, request) => sum + replyTokens(request), 0)),
    summary_prompt_tokens_per_turn: perTurn(summaries.reduce((sum, request) => sum + countRequestTokens(request.messages), 0)),
    ms_per_turn_last_100: ms(mean(times.slice(-100))),
  };
}

/**
 * Both modes over the same conversation (CONTEXT_TOKENS 4096, MAX_OUTPUT_TOKENS 512,
 * SUMMARY_TOKENS 256, ~110-token messages), and what summary mode adds per turn.
 */
export async function summaryBench(dir: string, turns: number) {
  const window = await measure(dir, "window", turns);
  const summary = await measure(dir, "summary", turns);
  const extra = Object.fromEntries(
    Object.entries(summary).map(([key, value]) => [key, Number((value - window[key as keyof typeof window]).toFixed(2))]),
  );
  return { turns, budget: BUDGET, window, summary, summary_extra_per_turn: extra };
}
