/**
 * What the HTTP app is built on, in a module of its own: `create-app.ts` imports every route and
 * every route takes `AppDeps`, so keeping the type here lets both sides import it without a circle.
 */
import type { Agent } from "../graph/agent.js";
import type { RevertibleCheckpointer } from "../storage/checkpointer.js";
import type { LlmCache } from "../storage/llm-cache.js";
import type { Logger } from "../logger.js";
import type { DocumentIndex } from "../retrieval/document-index.js";
import type { ApiKeys } from "./auth.js";
import type { CronScheduler } from "./cron-scheduler.js";
import type { InstanceMonitor } from "./instance-monitor.js";
import type { Metrics } from "./metrics.js";
import type { Readiness } from "./readiness.js";
import type { RunManager } from "./run-manager.js";
import type { ThreadSweeper } from "./thread-sweeper.js";
import type { StoreSweeper } from "./store-sweeper.js";
import type { Storage } from "../storage/storage.js";

/** Everything the HTTP app needs; the factory reads no environment and opens no socket. */
export interface AppDeps {
  agent: Agent;
  checkpointer: RevertibleCheckpointer;
  storage: Storage;
  runs: RunManager;
  logger: Logger;
  /** Browser origins allowed by CORS and Private Network Access (`["*"]` for any); none when empty. */
  corsOrigins?: string[];
  /** With keys, every request but `/ok` and `/ready` must authenticate and sees only its owner's threads. */
  apiKeys?: ApiKeys;
  /** With keys, a bearer token that opens `/metrics` alone (`METRICS_TOKEN`). */
  metricsToken?: string;
  /** This app's Prometheus metrics (`/metrics`). */
  metrics: Metrics;
  /** Whether the server takes traffic (`/ready`). */
  readiness: Readiness;
  /**
   * Host names served besides IP addresses and `localhost` (`ALLOWED_HOSTS`, `["*"]` for any).
   * Unset: checked against none when there are no API keys, not checked when there are.
   */
  allowedHosts?: string[];
  /** Heartbeat and clean-up after dead instances; stop it before closing the database. */
  monitor?: InstanceMonitor;
  /** Starts crons' runs when due; stop it before the run manager shuts down. */
  crons?: CronScheduler;
  /** Deletes the store's expired items; stop it before closing the database. */
  storeSweeper?: StoreSweeper;
  /** The model response cache, when `LLM_CACHE` is on; `/info` shows its counters. */
  llmCache?: LlmCache;
  /** Collections of documents (`/collections`), the same index the agent's search tool uses. */
  documents: DocumentIndex;
  /** Largest document upload body, in bytes (`DOCUMENT_MAX_BYTES`). */
  documentMaxBytes?: number;
  /** Most bytes one SSE stream may hold for a slow client (`STREAM_BUFFER_BYTES`). */
  streamBufferBytes?: number;
  /** TTL in minutes of threads created without one (`THREAD_TTL`); unset: kept until deleted. */
  threadTtlMinutes?: number;
  /** Deletes threads past their TTL; stop it before closing the database. */
  sweeper?: ThreadSweeper;
}
