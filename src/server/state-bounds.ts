/**
 * The part of a state update's checks that needs the thread: that `windowStart` and
 * `summary.upTo` point into the messages as they will be once the update is applied (the schema,
 * `StateValues`, checks their types). A window past the end would send the model no history.
 */
import type { BaseMessage } from "@langchain/core/messages";
import { messagesStateReducer } from "@langchain/langgraph";
import { ValidationError } from "../errors.js";
import type { StateValues } from "./schemas.js";

/**
 * Throws `ValidationError` naming `${field}.windowStart` or `${field}.summary.upTo` when either is
 * past the end of `messages` with the update's own messages applied. Returns those messages, for
 * the next update of a list to be checked against (`undefined` once they cannot be known).
 */
export function checkStateBounds(messages: readonly BaseMessage[] | undefined, values: StateValues, field: string): BaseMessage[] | undefined {
  if (messages === undefined) return undefined;
  let after = [...messages];
  if (values.messages !== undefined) {
    try {
      after = messagesStateReducer(after, values.messages as Parameters<typeof messagesStateReducer>[1]);
    } catch {
      // LangGraph's own complaint about these messages (a removal of a missing id) is reported
      // when the update is applied, as it always was.
      return undefined;
    }
  }
  const count = after.length;
  const problems: string[] = [];
  if (values.windowStart !== undefined && values.windowStart > count) {
    problems.push(`${field}.windowStart: ${values.windowStart} is past the end of the thread's ${count} messages`);
  }
  if (values.summary && values.summary.upTo > count) {
    problems.push(`${field}.summary.upTo: ${values.summary.upTo} is past the end of the thread's ${count} messages`);
  }
  if (problems.length > 0) throw new ValidationError(`Invalid request body: ${problems.join("; ")}`);
  return after;
}
