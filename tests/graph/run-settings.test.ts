import { FakeListChatModel } from "@langchain/core/utils/testing";
import { HumanMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { createAgent } from "../../src/graph/agent.js";
import type { ModelSettings } from "../../src/graph/run-models.js";
import { ValidationError } from "../../src/errors.js";
import { type ResolvedRunSettings, parseRunSettings, resolveRunSettings, runSettingsJsonSchema } from "../../src/graph/run-settings.js";

/** The message `parseRunSettings` throws for `configurable`, or a failure when it throws nothing. */
function rejection(configurable: Record<string, unknown>, parse = parseRunSettings): ValidationError {
  try {
    parse(configurable);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).status).toBe(422);
    return error as ValidationError;
  }
  throw new Error(`accepted ${JSON.stringify(configurable)}`);
}

const DEFAULTS: ResolvedRunSettings = {
  system_prompt: "Be brief.",
  model: "gpt-4o-mini",
  temperature: 0,
  max_tokens: 1024,
  context_tokens: 16_384,
  memory_mode: "window",
  summary_tokens: 512,
  long_term_memory: true,
};

describe("parseRunSettings", () => {
  it("reads every setting, and keeps only the known ones", () => {
    const configurable = {
      system_prompt: "You help with {topic}.",
      model: "gpt-4.1",
      temperature: 0.7,
      max_tokens: 200,
      context_tokens: 4000,
      memory_mode: "summary",
      summary_tokens: 300,
      collection_id: "c1",
      topic: "owls",
      thread_id: "t",
    };
    expect(parseRunSettings(configurable)).toEqual({
      system_prompt: "You help with {topic}.",
      model: "gpt-4.1",
      temperature: 0.7,
      max_tokens: 200,
      context_tokens: 4000,
      memory_mode: "summary",
      summary_tokens: 300,
      collection_id: "c1",
    });
  });

  it("treats null (a cleared form field) and an empty collection as not set", () => {
    expect(parseRunSettings({ temperature: null, model: null, collection_id: "", max_tokens: undefined })).toEqual({});
  });

  it.each([
    [{ system_prompt: 42 }, "configurable.system_prompt must be a string (got 42)"],
    [{ model: "" }, 'configurable.model must be a non-empty string (a model name) (got "")'],
    [{ model: "   " }, "configurable.model must be a non-empty string"],
    [{ model: 4 }, "configurable.model must be a non-empty string"],
    [{ temperature: 2.5 }, "configurable.temperature must be a number from 0 to 2 (got 2.5)"],
    [{ temperature: -0.1 }, "configurable.temperature must be a number from 0 to 2"],
    [{ temperature: "0.5" }, 'configurable.temperature must be a number from 0 to 2 (got "0.5")'],
    [{ max_tokens: 0 }, "configurable.max_tokens must be an integer from 1 to 10000000 (got 0)"],
    [{ max_tokens: 10.5 }, "configurable.max_tokens must be an integer from 1"],
    [{ context_tokens: "4k" }, "configurable.context_tokens must be an integer from 1"],
    [{ context_tokens: 20_000_000 }, "configurable.context_tokens must be an integer from 1 to 10000000"],
    [{ memory_mode: "forever" }, 'configurable.memory_mode must be one of "window", "summary" (got "forever")'],
    [{ summary_tokens: -5 }, "configurable.summary_tokens must be an integer from 1"],
    [{ collection_id: 7 }, "configurable.collection_id must be a collection id (a string)"],
    [{ long_term_memory: "off" }, 'configurable.long_term_memory must be true or false (got "off")'],
  ])("refuses %j, naming the field and the rule", (configurable, message) => {
    expect(rejection(configurable).message).toContain(message);
  });

  it("names every bad field at once", () => {
    const { message } = rejection({ temperature: 9, memory_mode: 1, fine: "yes" });
    expect(message).toContain("configurable.temperature must be a number from 0 to 2");
    expect(message).toContain("configurable.memory_mode must be one of");
    expect(message).not.toContain("fine");
  });

  it("allows any other key: they are template variables", () => {
    expect(parseRunSettings({ topic: { nested: true }, user_id: 3 })).toEqual({});
  });
});

describe("resolveRunSettings", () => {
  it("fills what the run does not set from the defaults", () => {
    expect(resolveRunSettings({ temperature: 1, collection_id: "c" }, DEFAULTS)).toEqual({ ...DEFAULTS, temperature: 1, collection_id: "c" });
  });

  it("refuses a reply that leaves no room for the prompt, naming both fields", () => {
    const { message } = rejection({ context_tokens: 1000 }, (configurable) => resolveRunSettings(configurable, DEFAULTS));
    expect(message).toContain("max_tokens (the default, 1024) must be smaller than configurable.context_tokens (1000)");
    expect(rejection({ max_tokens: 16_384 }, (configurable) => resolveRunSettings(configurable, DEFAULTS)).message).toContain("configurable.max_tokens (16384) must be smaller");
  });

  it("refuses a summary too long for the budget in summary mode only", () => {
    const small = { context_tokens: 1200, max_tokens: 200 };
    expect(resolveRunSettings(small, DEFAULTS).memory_mode).toBe("window");
    const { message } = rejection({ ...small, memory_mode: "summary" }, (configurable) => resolveRunSettings(configurable, DEFAULTS));
    expect(message).toContain("summary_tokens (the default, 512) must be at most half of context_tokens less max_tokens (500)");
    expect(resolveRunSettings({ ...small, memory_mode: "summary", summary_tokens: 500 }, DEFAULTS).summary_tokens).toBe(500);
  });
});

describe("runSettingsJsonSchema", () => {
  it("describes every setting with its type, limits, title, description and the service's default", () => {
    const schema = runSettingsJsonSchema(DEFAULTS);
    expect(schema.type).toBe("object");
    expect(schema.properties).toEqual({
      system_prompt: expect.objectContaining({ type: "string", default: "Be brief.", title: "System prompt" }),
      model: expect.objectContaining({ type: "string", minLength: 1, default: "gpt-4o-mini" }),
      temperature: expect.objectContaining({ type: "number", minimum: 0, maximum: 2, default: 0 }),
      max_tokens: expect.objectContaining({ type: "integer", minimum: 1, default: 1024 }),
      context_tokens: expect.objectContaining({ type: "integer", minimum: 1, default: 16_384 }),
      memory_mode: expect.objectContaining({ type: "string", enum: ["window", "summary"], default: "window" }),
      summary_tokens: expect.objectContaining({ type: "integer", minimum: 1, default: 512 }),
      collection_id: expect.objectContaining({ type: "string" }),
      long_term_memory: expect.objectContaining({ type: "boolean", default: true, title: "Long-term memory" }),
    });
    for (const property of Object.values(schema.properties ?? {})) {
      expect(property).toEqual(expect.objectContaining({ title: expect.any(String), description: expect.any(String) }));
    }
    expect(schema.properties?.collection_id).not.toHaveProperty("default");
    // Other keys fill {variables} in the system prompt.
    expect(schema.additionalProperties).toEqual({ type: ["string", "number", "boolean"] });
  });

  it("has no defaults when none are given", () => {
    const schema = runSettingsJsonSchema();
    for (const property of Object.values(schema.properties ?? {})) expect(property).not.toHaveProperty("default");
  });
});

describe("the model of a run", () => {
  const ask = (agent: ReturnType<typeof createAgent>, configurable: Record<string, unknown>) =>
    agent.invoke({ messages: [new HumanMessage("hi")] }, { configurable: { thread_id: crypto.randomUUID(), ...configurable } });

  it("is built by the factory for settings other than the defaults, once per settings", async () => {
    const built: ModelSettings[] = [];
    const agent = createAgent({
      model: new FakeListChatModel({ responses: ["default"] }),
      modelName: "base",
      temperature: 0.3,
      maxOutputTokens: 100,
      modelFactory: (settings) => {
        built.push(settings);
        return new FakeListChatModel({ responses: [`${settings.model} at ${settings.temperature}, ${settings.maxTokens} tokens`] });
      },
    });
    expect((await ask(agent, {})).messages.at(-1)!.text).toBe("default");
    expect((await ask(agent, { temperature: 0.3, model: "base" })).messages.at(-1)!.text).toBe("default");
    expect((await ask(agent, { model: "other", max_tokens: 50 })).messages.at(-1)!.text).toBe("other at 0.3, 50 tokens");
    expect((await ask(agent, { model: "other", max_tokens: 50 })).messages.at(-1)!.text).toBe("other at 0.3, 50 tokens");
    expect(built).toEqual([{ model: "other", temperature: 0.3, maxTokens: 50 }]);
  });

  it("cannot change without a factory: the run is refused, naming the setting", async () => {
    const agent = createAgent({ model: new FakeListChatModel({ responses: ["default"] }), modelName: "base" });
    await expect(ask(agent, { temperature: 1 })).rejects.toThrow("configurable.temperature cannot be changed per run");
    expect((await ask(agent, { context_tokens: 4000 })).messages.at(-1)!.text).toBe("default");
  });
});
