import type { RunnableConfig } from "@langchain/core/runnables";
import { ValidationError } from "../errors.js";
import { RETRIEVAL_INSTRUCTIONS, collectionOf } from "./search-documents-tool.js";

/** `{name}` is a variable; `{{` and `}}` stand for literal braces. */
const TEMPLATE_TOKEN = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Fills `{name}` placeholders from `variables`. A placeholder with no value is an error:
 * sending the literal `{topic}` to the model would fail silently, which is worse.
 */
export function renderTemplate(template: string, variables: Readonly<Record<string, unknown>>): string {
  return template.replace(TEMPLATE_TOKEN, (token, name: string | undefined) => {
    if (name === undefined) return token[0] as string;
    const value = variables[name];
    if (value === undefined || value === null) {
      throw new ValidationError(
        `The system prompt uses the variable {${name}}, but the run has no value for it: pass configurable.${name}`,
      );
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new ValidationError(`configurable.${name} must be a string, number or boolean to fill {${name}}`);
    }
    return String(value);
  });
}

/**
 * The system prompt of one run: `configurable.system_prompt` when given (per run or per thread),
 * else the service default, with template variables filled from `configurable`. With
 * `retrieval` (the agent has a document index), a run bound to a collection also gets the
 * instructions of the `search_documents` tool.
 */
export function resolveSystemPrompt(defaultPrompt: string, config: RunnableConfig | undefined, options: { retrieval?: boolean } = {}): string {
  const configurable = config?.configurable ?? {};
  const override: unknown = configurable.system_prompt;
  if (override !== undefined && override !== null && typeof override !== "string") {
    throw new ValidationError("configurable.system_prompt must be a string");
  }
  const prompt = renderTemplate(override ?? defaultPrompt, configurable);
  // A run bound to a collection is told about its search tool; trim and model nodes both ask
  // here, so the budget counts exactly what is sent.
  if (!options.retrieval || !collectionOf(config)) return prompt;
  return prompt === "" ? RETRIEVAL_INSTRUCTIONS : `${prompt}\n\n${RETRIEVAL_INSTRUCTIONS}`;
}
