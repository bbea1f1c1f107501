/** The call a finished run makes to the webhook its request named (see ../webhooks.ts for the checks). */
import type { Webhooks } from "../webhooks.js";
import { runToWire, toWire } from "../wire.js";
import type { RunHandle, RunOutcome } from "./run-handle.js";

/**
 * POSTs the finished run and its outcome to `url`, checking its target again; never rejects:
 * a failure, a redirect (not followed) or an error status is only logged, to the run's logger.
 */
export async function callRunWebhook(webhooks: Webhooks, url: string, handle: RunHandle, outcome: RunOutcome): Promise<void> {
  const { logger } = handle;
  try {
    const status = await webhooks.post(url, { ...runToWire(handle.run), values: toWire(outcome.values), error: outcome.error });
    if (status >= 300 && status < 400) logger.warn({ status }, "webhook answered with a redirect, which is not followed");
    else if (status >= 400) logger.warn({ status }, "webhook answered with an error");
  } catch (error) {
    logger.warn({ err: error }, "webhook call failed");
  }
}
