/**
 * How the agent wires long-term memory: its settings, the per-call memory of a run (store, user,
 * budget, what to note after the reply), and the writers whose background work can be awaited.
 */
import type { BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { storeOf, userOf } from "./long-term-memory.js";
import type { MemoryRun } from "./memory-recall.js";
import { MEMORY_TOOL_NAMES } from "./memory-tools.js";
import { MemoryWriter } from "./memory-writer.js";
import type { RunSetupResolver } from "./run-setup.js";

/** Long-term memory settings (see `AgentOptions.longTermMemory`). */
export interface LongTermMemoryOptions {
  /** On by default for runs (`LONG_TERM_MEMORY`); false turns it off for every run, whatever it says. */
  enabled?: boolean;
  /** Most memories recalled into one prompt (`MEMORY_RECALL_K`, default 5). */
  recallK?: number;
  /** Personal remarks gathered before one extraction call reads them (default `MEMORY_BATCH_SIZE`). */
  batchSize?: number;
  /** Told when recall or extraction fails; the turn is not affected. */
  onError?: (error: unknown, context: { stage: "recall" | "extraction"; user: string; threadId: string | undefined }) => void;
}

/** Default `MEMORY_RECALL_K`. */
export const DEFAULT_MEMORY_RECALL_K = 5;

/** The writer of an agent's memories; extraction calls time out as model calls do (`timeoutMs`). */
export function createMemoryWriter(options: LongTermMemoryOptions | undefined, timeoutMs: number | undefined): MemoryWriter {
  const onError = options?.onError;
  return new MemoryWriter({
    batchSize: options?.batchSize,
    timeoutMs,
    onError: onError && ((error, context) => onError(error, { stage: "extraction", ...context })),
  });
}

const threadOf = (config: RunnableConfig | undefined): string | undefined => {
  const value: unknown = config?.configurable?.thread_id;
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
};

/** Whether the model called a memory tool since the newest user message. */
function usedMemoryTools(messages: readonly BaseMessage[]): boolean {
  const newestHuman = messages.findLastIndex((message) => message.getType() === "human");
  return messages.slice(newestHuman + 1).some((message) => ((message as { tool_calls?: Array<{ name: string }> }).tool_calls ?? []).some((call) => MEMORY_TOOL_NAMES.has(call.name)));
}

/** Long-term memory of one model call: undefined when the run has it off or has no store. */
export function memoryRunResolver(options: LongTermMemoryOptions | undefined, setup: RunSetupResolver, writer: MemoryWriter) {
  return (config: RunnableConfig | undefined): MemoryRun | undefined => {
    const store = storeOf(config);
    const run = setup(config);
    if (!store || run.recallK === 0) return undefined;
    const user = userOf(config);
    const threadId = threadOf(config);
    return {
      store,
      user,
      recallK: run.recallK,
      counter: run.trim.counter,
      budget: run.trim.contextTokens - run.trim.maxOutputTokens,
      onError: (error) => options?.onError?.(error, { stage: "recall", user, threadId }),
      noteTurn: (messages) =>
        writer.note({
          store,
          user,
          threadId,
          userMessages: messages.filter((message) => message.getType() === "human").map((message) => message.text),
          handled: usedMemoryTools(messages),
          model: () => run.summaryModel(),
        }),
    };
  };
}

/** Each agent's memory writer, for `memoryWritesSettled`. */
const memoryWriters = new WeakMap<object, MemoryWriter>();

/** Makes `agent`'s writer known to `memoryWritesSettled`. */
export function registerMemoryWriter(agent: object, writer: MemoryWriter): void {
  memoryWriters.set(agent, writer);
}

/**
 * Resolves once every memory extraction `agent` has started (in the background, after turns) has
 * ended. Nothing on a reply's path waits for them; shutdown and tests wait here.
 */
export async function memoryWritesSettled(agent: object): Promise<void> {
  await memoryWriters.get(agent)?.idle();
}
