import { Annotation, MessagesAnnotation } from "@langchain/langgraph";

/**
 * The state every thread keeps. `messages` is the full conversation, never trimmed;
 * `windowStart` is where the part sent to the model begins, chosen by the trim node on each turn.
 * Keeping an index rather than a second copy keeps checkpoints small.
 */
export const AgentState = Annotation.Root({
  ...MessagesAnnotation.spec,
  windowStart: Annotation<number>({
    reducer: (_previous, next) => next,
    default: () => 0,
  }),
  /**
   * In summary memory mode, what the messages before the window said: `text` covers
   * `messages[pinned..upTo)`. Null until the window first moves (and always in window mode).
   */
  summary: Annotation<ConversationSummary | null>({
    reducer: (_previous, next) => next,
    default: () => null,
  }),
});

/** A running summary of the messages that left the window. */
export interface ConversationSummary {
  text: string;
  /** Index of the first message it does not cover; equal to `windowStart` when it is current. */
  upTo: number;
}

/** A thread's state as the nodes see it. */
export type AgentStateValue = typeof AgentState.State;
/** What a node may return to update the state. */
export type AgentStateUpdate = typeof AgentState.Update;
