/**
 * Counts a chat request's prompt tokens from its wire JSON, independently of src/: the recipe
 * of OpenAI's cookbook (3 per message + role + content, 1 per name, 3 to prime the reply), with
 * tool calls counted as the service documents (8 + name + arguments + id per call).
 */
import { Tiktoken } from "js-tiktoken/lite";
import o200kBase from "js-tiktoken/ranks/o200k_base";
import { type WireMessage, wireText } from "./openai-stub.js";

const encoder = new Tiktoken(o200kBase);
const count = (text: string) => encoder.encode(text).length;

export function countRequestTokens(messages: WireMessage[]): number {
  let tokens = 3;
  for (const message of messages) {
    tokens += 3 + count(message.role) + count(wireText(message));
    if (message.name) tokens += 1 + count(message.name);
    for (const call of message.tool_calls ?? []) {
      tokens += 8 + count(call.function.name) + count(call.function.arguments) + count(call.id);
    }
    if (message.tool_call_id) tokens += count(message.tool_call_id);
  }
  return tokens;
}
