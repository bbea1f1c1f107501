/**
 * Checkpoints of the write-ahead log in a worker thread. By default SQLite checkpoints inside the
 * commit that takes the log past 1,000 pages: on the connection that committed, so on the
 * server's event loop, which then stands still while pages are copied and the file is synced
 * (15 to 30 ms each, every 40 turns or so on a busy server, measured; every request waits).
 * Here a worker does it every second instead, without blocking the server's writes. The server's
 * connection keeps a backstop far above what a second of writes adds (`BACKSTOP_PAGES`), and
 * goes back to SQLite's default should the worker fail.
 */
import type BetterSqlite3 from "better-sqlite3";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

const WORKER_SCRIPT = fileURLToPath(new URL("./wal-checkpoint-worker.mjs", import.meta.url));

/** How often the worker checkpoints. */
const INTERVAL_MS = 1000;
/** The server connection's own checkpoint threshold while the worker runs: 64 MiB of log, several seconds of writes at the most. */
const BACKSTOP_PAGES = 16_384;
/** SQLite's default threshold, restored when the worker stops. */
const DEFAULT_PAGES = 1000;

/** The worker checkpointing one database file; `stop` ends it. */
export class WalCheckpoints {
  readonly #worker: Worker;
  #stopped = false;

  /** Starts checkpointing the file of `connection` (a file in WAL mode) from a worker thread. */
  constructor(
    private readonly connection: BetterSqlite3.Database,
    options: { intervalMs?: number } = {},
  ) {
    this.#worker = new Worker(WORKER_SCRIPT, { workerData: { path: connection.name, intervalMs: options.intervalMs ?? INTERVAL_MS } });
    // Never keeps the process alive: a server that is done exits without stopping it.
    this.#worker.unref();
    connection.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    // A worker that fails or ends hands checkpoints back to the connection.
    this.#worker.once("error", () => this.#handBack());
    this.#worker.once("exit", () => this.#handBack());
  }

  /** Whether the worker still checkpoints. */
  get running(): boolean {
    return !this.#stopped;
  }

  /** Ends the worker (its connection closes with it); checkpoints go back to the server's connection. */
  stop(): void {
    if (this.#stopped) return;
    this.#handBack();
    void this.#worker.terminate();
  }

  #handBack(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.connection.open) this.connection.pragma(`wal_autocheckpoint = ${DEFAULT_PAGES}`);
  }
}
