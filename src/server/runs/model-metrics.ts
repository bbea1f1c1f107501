/**
 * What a run's model calls tell the metrics: each call's latency and outcome, the tokens the
 * provider reported, the time to the run's first streamed token, provider errors by kind and
 * retries. It is a LangChain callback handler the run gives its model calls, so the graph, which
 * makes the calls (and retries them, see graph/model-node.ts), knows nothing of metrics.
 */
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import { ModelProviderError } from "../../errors.js";
import { toModelError } from "../../graph/model-node.js";
import type { Metrics, ProviderErrorKind } from "../metrics.js";
import { modelCallHandler } from "../../graph/model-call-handler.js";

/** Tags of calls that are bookkeeping (summaries, memory extraction), not the reply a client waits for. */
const NOSTREAM_TAGS = new Set(["nostream", "langsmith:nostream"]);

const TIMEOUT_NAMES = new Set(["AbortError", "TimeoutError", "APIConnectionTimeoutError", "APIUserAbortError", "ConnectTimeoutError"]);
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** Whether `error` (or a cause of it) says a wait ran out, or the attempt was aborted for taking too long. */
function isTimeout(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === "object" && depth < 6; current = (current as Error).cause, depth += 1) {
    const { name, code } = current as { name?: unknown; code?: unknown };
    if ((typeof name === "string" && TIMEOUT_NAMES.has(name)) || (typeof code === "string" && TIMEOUT_CODES.has(code))) return true;
  }
  return false;
}

/**
 * The kind of a failed model call, from what the provider's client threw: the provider's status
 * (429, 5xx, other 4xx, 408 as a timeout), a timeout, a connection that failed, or something else
 * (a request that could not be made). A call aborted while its run was not cancelled ran out of
 * time (`MODEL_TIMEOUT_MS`).
 */
export function providerErrorKind(error: unknown): ProviderErrorKind {
  const classified = toModelError(error, undefined);
  if (!(classified instanceof ModelProviderError)) return isTimeout(classified) ? "timeout" : "other";
  const status = classified.providerStatus;
  if (status === undefined) {
    if (!classified.isRetryable) return "other";
    return isTimeout(error) ? "timeout" : "connection";
  }
  if (status === 429) return "rate_limit";
  if (status === 408) return "timeout";
  return status >= 500 ? "server_error" : "client_error";
}

/** The token counts of a model call's result: the message's `usage_metadata`, else the provider's `tokenUsage`. */
function tokensOf(output: LLMResult): { input: number; output: number } | undefined {
  const message = (output.generations[0]?.[0] as { message?: BaseMessage } | undefined)?.message as { usage_metadata?: { input_tokens?: number; output_tokens?: number } } | undefined;
  const usage = message?.usage_metadata;
  if (usage) return { input: usage.input_tokens ?? 0, output: usage.output_tokens ?? 0 };
  const reported = output.llmOutput?.tokenUsage as { promptTokens?: number; completionTokens?: number } | undefined;
  return reported ? { input: reported.promptTokens ?? 0, output: reported.completionTokens ?? 0 } : undefined;
}

/** One call in flight: when it started, and whether its tokens are the reply's. */
interface Call {
  startedAt: number;
  streamsReply: boolean;
}

/**
 * A callback handler recording one run's model calls into `metrics`. `startedAt` is the run's
 * start (`performance.now()`), from which the first token is timed; `signal` is the run's, whose
 * cancellation is the client's doing, not a provider error.
 */
export function modelMetricsHandler(metrics: Metrics, run: { startedAt: number; signal: AbortSignal }): BaseCallbackHandler {
  const calls = new Map<string, Call>();
  /** How the run's last model call failed: a call that says it is a retry (see model-node.ts) retries that. */
  let lastFailure: ProviderErrorKind | undefined;
  let firstTokenSeen = false;
  const firstToken = (runId: string) => {
    if (firstTokenSeen || !calls.get(runId)?.streamsReply) return;
    firstTokenSeen = true;
    metrics.timeToFirstToken.observe((performance.now() - run.startedAt) / 1000);
  };
  return modelCallHandler("model_call_metrics", {
    handleChatModelStart: (
      _llm: Serialized,
      _messages: BaseMessage[][],
      runId: string,
      _parentRunId?: string,
      _extra?: Record<string, unknown>,
      tags?: string[],
      metadata?: Record<string, unknown>,
    ) => {
      calls.set(runId, { startedAt: performance.now(), streamsReply: !tags?.some((tag) => NOSTREAM_TAGS.has(tag)) });
      // A run's model calls come one at a time: a retry follows the failure it retries.
      const attempt = metadata?.model_call_attempt;
      if (typeof attempt === "number" && attempt > 1) metrics.modelRetries.inc({ kind: lastFailure ?? "other" });
    },
    handleLLMNewToken: (token, _index, runId) => {
      if (token !== "") firstToken(runId);
    },
    handleChatModelStreamEvent: (event, runId) => {
      if (event.event === "content-block-delta") firstToken(runId);
    },
    handleLLMEnd: (output, runId, _parentRunId, _tags, extra) => {
      const call = calls.get(runId);
      calls.delete(runId);
      const cached = extra?.cached === true;
      if (call) metrics.modelCallDuration.observe({ outcome: cached ? "cached" : "success" }, (performance.now() - call.startedAt) / 1000);
      if (cached) return;
      const tokens = tokensOf(output);
      if (!tokens) return;
      if (tokens.input > 0) metrics.modelTokens.inc({ direction: "input" }, tokens.input);
      if (tokens.output > 0) metrics.modelTokens.inc({ direction: "output" }, tokens.output);
    },
    handleLLMError: (error, runId) => {
      const call = calls.get(runId);
      calls.delete(runId);
      if (call) metrics.modelCallDuration.observe({ outcome: "error" }, (performance.now() - call.startedAt) / 1000);
      if (run.signal.aborted) return;
      const kind = providerErrorKind(error);
      metrics.providerErrors.inc({ kind });
      lastFailure = kind;
    },
  });
}
