/** The call a finished run makes to the webhook its request named (see ../webhooks.ts for the checks). */
import type { Logger } from "../../logger.js";
import type { Webhooks } from "../webhooks.js";
import { runToWire, toWire } from "../wire.js";
import type { RunHandle, RunOutcome } from "./run-handle.js";

/**
 * POSTs the finished run and its outcome to `url`, checking its target again; never rejects:
 * a failure, a redirect (not followed) or an error status is only logged.
 */
export async function callRunWebhook(webhooks: Webhooks, logger: Logger, url: string, handle: RunHandle, outcome: RunOutcome): Promise<void> {
  const { runId } = handle.run;
  try {
    const status = await webhooks.post(url, { ...runToWire(handle.run), values: toWire(outcome.values), error: outcome.error });
    if (status >= 300 && status < 400) logger.warn({ runId, status }, "webhook answered with a redirect, which is not followed");
    else if (status >= 400) logger.warn({ runId, status }, "webhook answered with an error");
  } catch (error) {
    logger.warn({ err: error, runId }, "webhook call failed");
  }
}
