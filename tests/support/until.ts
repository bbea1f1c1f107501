/**
 * Waits until `predicate` holds, polling every 10 ms; fails after `timeoutMs`: a bound for when
 * something is broken, not a timing assertion, so generous enough for a busy machine.
 */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
