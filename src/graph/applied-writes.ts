/**
 * A run's view of its checkpointer that does not store what the run already applied.
 *
 * With "exit" durability (runs' default, see `makeRunsAtomic`) LangGraph stores nothing while a
 * run goes and, as the run ends, writes its last checkpoint and then the writes it still holds as
 * pending writes of that checkpoint. Those include a `Command`'s own update (task `NULL_TASK_ID`)
 * when no step of the run consumed it (an update with no `goto`), although the checkpoint already
 * has it applied. LangGraph applies a checkpoint's `NULL_TASK_ID` writes again on every read and
 * on the next run from it, so such an update took effect over and over: an id-less message was
 * added again with a new id each time, and a message removal failed ("no message with that id"),
 * leaving the thread unreadable. A run that failed left its update on the thread's head the same
 * way (undoing a run removes only what came after the head). In "exit" mode those writes are
 * never needed: the run either ended with them in its last checkpoint, or is undone.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import type { BaseCheckpointSaver, PendingWrite } from "@langchain/langgraph-checkpoint";

/** LangGraph's task id of writes that belong to no node: a Command's update, goto and resume. */
const NULL_TASK_ID = "00000000-0000-0000-0000-000000000000";
/** The channel of a Command's `resume`, which `interrupt()` reads back: kept, as LangGraph writes it. */
const RESUME = "__resume__";
/** The config key through which LangGraph lends a run its checkpointer (as it does to subgraphs). */
export const CONFIG_KEY_CHECKPOINTER = "__pregel_checkpointer";

/** `saver`, but for a run with "exit" durability: the writes above are not stored. */
export function withoutAppliedCommandWrites<T extends BaseCheckpointSaver>(saver: T): T {
  return new Proxy(saver, {
    get(target, property) {
      if (property === "putWrites") {
        return async (config: RunnableConfig, writes: PendingWrite[], taskId: string, ...rest: unknown[]): Promise<void> => {
          const kept = taskId === NULL_TASK_ID ? writes.filter(([channel]) => channel === RESUME) : writes;
          if (kept.length > 0) await (target.putWrites as (...args: unknown[]) => Promise<void>)(config, kept, taskId, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
