/**
 * The server's Prometheus metrics (`GET /metrics`), with `prom-client`. One `Metrics` per app:
 * tests build many apps in one process, and each must count only its own requests and runs. The
 * process metrics (CPU, memory, event loop lag, GC) are the process's, so they are collected once,
 * in a registry every app's output shares: `collectDefaultMetrics` starts an event loop monitor
 * and a GC observer on each call that nothing ever stops.
 *
 * Recording costs a few additions per event. Label values come from small fixed sets (a route's
 * pattern, never its path; a status; a kind). The children of fixed label sets are bound once;
 * other values are recorded with `observe(labels, value)` and `inc(labels)`, as `labels(...)`
 * builds a child's closures on every call.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RunStatus } from "../storage/runs.js";
import type { QueryObserver } from "../storage/query-observer.js";

/** What every metric of ours is named after. */
const PREFIX = "stateful_agent_";

/** Buckets, in seconds, of request and query durations: a millisecond to half a minute. */
const FAST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets, in seconds, of runs and model calls: a tenth of a second to five minutes. */
const SLOW_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300];

/** Why a model call failed, as `model_provider_errors_total` and `model_retries_total` count it. */
export type ProviderErrorKind = "rate_limit" | "server_error" | "client_error" | "timeout" | "connection" | "other";

/** How a model call ended: answered by the provider, answered from the response cache, or failed. */
export type ModelCallOutcome = "success" | "cached" | "error";

/** Something an SSE or WebSocket stream counts itself in while it is open. */
export interface StreamGauge {
  inc(): void;
  dec(): void;
}

let processRegistry: Registry | undefined;

/** The registry of the process's own metrics, made on first use and shared by every app. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** One app's metrics; `text()` is what `/metrics` answers, with the process's metrics too. */
export class Metrics {
  readonly #own = new Registry();
  readonly #all: Registry;

  /** Every HTTP request, by method, route pattern and status; its `_count` counts them. */
  readonly httpRequestDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: "Time from a request's arrival to its response's end (a stream's whole life), by method, route pattern and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: FAST_BUCKETS,
    registers: [this.#own],
  });
  readonly runs = new Counter({
    name: `${PREFIX}runs_total`,
    help: "Runs ended on this instance, by status (success, error, interrupted, timeout)",
    labelNames: ["status"] as const,
    registers: [this.#own],
  });
  readonly runQueueWait = new Histogram({
    name: `${PREFIX}run_queue_wait_seconds`,
    help: "Time from a run's creation until its graph starts (queued behind the thread's other runs, waiting for the thread's claim)",
    buckets: FAST_BUCKETS,
    registers: [this.#own],
  });
  readonly runDuration = new Histogram({
    name: `${PREFIX}run_duration_seconds`,
    help: "Time from a run's start to its end, by status",
    labelNames: ["status"] as const,
    buckets: SLOW_BUCKETS,
    registers: [this.#own],
  });
  readonly timeToFirstToken = new Histogram({
    name: `${PREFIX}run_time_to_first_token_seconds`,
    help: "Time from a run's start to the first token its model streamed (runs whose model streams)",
    buckets: SLOW_BUCKETS,
    registers: [this.#own],
  });
  readonly modelCallDuration = new Histogram({
    name: `${PREFIX}model_call_duration_seconds`,
    help: "Time one model call took, each attempt apart, by outcome (success, cached, error)",
    labelNames: ["outcome"] as const,
    buckets: SLOW_BUCKETS,
    registers: [this.#own],
  });
  readonly modelTokens = new Counter({
    name: `${PREFIX}model_tokens_total`,
    help: "Tokens the provider reported using, by direction (input: the prompt, output: the reply); replies from the cache count none",
    labelNames: ["direction"] as const,
    registers: [this.#own],
  });
  readonly modelRetries = new Counter({
    name: `${PREFIX}model_retries_total`,
    help: "Model calls made again after a failed attempt, by the kind of failure",
    labelNames: ["kind"] as const,
    registers: [this.#own],
  });
  readonly providerErrors = new Counter({
    name: `${PREFIX}model_provider_errors_total`,
    help: "Failed model call attempts, by kind (rate_limit, server_error, client_error, timeout, connection, other)",
    labelNames: ["kind"] as const,
    registers: [this.#own],
  });
  readonly storageQueryDuration = new Histogram({
    name: `${PREFIX}storage_query_duration_seconds`,
    help: "Time of the database's statements and transactions, by backend and operation",
    labelNames: ["backend", "operation"] as const,
    buckets: FAST_BUCKETS,
    registers: [this.#own],
  });
  readonly activeStreams = new Gauge({
    name: `${PREFIX}active_streams`,
    help: "Streams open to clients, by transport (sse, websocket)",
    labelNames: ["transport"] as const,
    registers: [this.#own],
  });

  /** The SSE streams' count, bound once. */
  readonly sseStreams: StreamGauge = this.activeStreams.labels("sse");
  /** The protocol WebSockets' count, bound once. */
  readonly webSockets: StreamGauge = this.activeStreams.labels("websocket");

  constructor() {
    // Present from the start at 0, so a dashboard sees the series before the first stream.
    this.activeStreams.labels("sse").set(0);
    this.activeStreams.labels("websocket").set(0);
    this.#all = Registry.merge([this.#own, processMetrics()]);
  }

  /** The `content-type` of `text()`. */
  get contentType(): string {
    return this.#all.contentType;
  }

  /** Every metric in Prometheus's text format. */
  text(): Promise<string> {
    return this.#all.metrics();
  }

  /** Counts a run that ended; `startedAt` (`performance.now()`) when its graph had started. */
  runEnded(status: RunStatus, startedAt: number | undefined): void {
    this.runs.inc({ status });
    if (startedAt !== undefined) this.runDuration.observe({ status }, (performance.now() - startedAt) / 1000);
  }

  /** The storage observer recording into `storage_query_duration_seconds` for `backend`. */
  queryObserver(backend: string): QueryObserver {
    const statement = this.storageQueryDuration.labels(backend, "statement");
    const transaction = this.storageQueryDuration.labels(backend, "transaction");
    return (operation, seconds) => (operation === "statement" ? statement : transaction).observe(seconds);
  }
}

/** A new app's metrics. */
export const createMetrics = (): Metrics => new Metrics();
