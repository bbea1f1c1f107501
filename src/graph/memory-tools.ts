/**
 * `save_memory` and `forget_memory`: the model's own hands on the user's long-term memories, for
 * explicit requests ("remember that I am vegetarian", "forget my address"). Offered to runs with
 * long-term memory on; the writes go to the run's store under the run's user.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { tool } from "@langchain/core/tools";
import { z } from "zod";
import { MAX_MEMORY_CHARACTERS, cleanMemoryKey, cleanMemoryText, memoryNamespace, storeOf, userOf } from "./long-term-memory.js";

export const SAVE_MEMORY_TOOL = "save_memory";
export const FORGET_MEMORY_TOOL = "forget_memory";
/** The names of the memory tools. */
export const MEMORY_TOOL_NAMES: ReadonlySet<string> = new Set([SAVE_MEMORY_TOOL, FORGET_MEMORY_TOOL]);

const NO_STORE = "Long-term memory is not available in this conversation.";

/** The two memory tools. */
export function createMemoryTools() {
  const save = tool(
    async ({ key, text }, config?: RunnableConfig) => {
      const store = storeOf(config);
      if (!store) return NO_STORE;
      const cleanKey = cleanMemoryKey(key);
      const cleanText = cleanMemoryText(text);
      if (cleanKey === "" || cleanText === "") return "Nothing saved: the key and the text must not be empty.";
      await store.put(memoryNamespace(userOf(config)), cleanKey, { text: cleanText });
      return `Saved under "${cleanKey}": ${cleanText}`;
    },
    {
      name: SAVE_MEMORY_TOOL,
      description:
        "Remember a durable fact about the user (name, preference, goal, standing instruction) across conversations. " +
        "Saving under an existing key replaces that memory: use it to correct a fact.",
      schema: z.object({
        key: z.string().min(1).max(64).describe("A short snake_case name of what the fact is about, e.g. name, diet, timezone"),
        text: z.string().min(1).max(MAX_MEMORY_CHARACTERS).describe("The fact, as one short sentence about the user"),
      }),
    },
  );
  const forget = tool(
    async ({ key }, config?: RunnableConfig) => {
      const store = storeOf(config);
      if (!store) return NO_STORE;
      const namespace = memoryNamespace(userOf(config));
      const cleanKey = cleanMemoryKey(key);
      if (cleanKey === "" || (await store.get(namespace, cleanKey)) === null) return `There is no memory under "${key}".`;
      await store.delete(namespace, cleanKey);
      return `Forgot "${cleanKey}".`;
    },
    {
      name: FORGET_MEMORY_TOOL,
      description: "Forget one memory about the user, by its key (as listed with the remembered facts), when the user asks you to forget it.",
      schema: z.object({ key: z.string().min(1).max(64).describe("The key of the memory to forget") }),
    },
  );
  return [save, forget];
}
