/**
 * `run` made to run once and share its result, e.g. a store's table setup that every method
 * awaits. A failure is not kept: the next call runs it again (the database may be back).
 */
export function onceUntilFailure(run: () => Promise<void>): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () => {
    ready ??= run().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
}
