import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DocumentContentType } from "../storage/documents.js";

/** The script the workers run: plain JavaScript beside this file, so no loader is needed. */
const WORKER_SCRIPT = fileURLToPath(new URL("./document-worker.mjs", import.meta.url));

/** A piece of work for a worker (the one message document-worker.mjs receives). */
export type DocumentTask =
  | { kind: "pdf"; data: Uint8Array; maxPages: number; maxCharacters: number; standardFontDataUrl: string }
  | { kind: "split"; text: string; contentType: DocumentContentType; chunkSize: number; chunkOverlap: number };

/** What a worker answers: the result, or which limit the document passed, or why it is unreadable. */
export type TaskOutcome =
  | { kind: "text"; text: string }
  | { kind: "pieces"; pieces: string[] }
  | { kind: "refused"; limit: "pages"; pages: number }
  | { kind: "refused"; limit: "characters" }
  | { kind: "unreadable"; message: string };

/** How much a worker may use before it is stopped. */
export interface WorkerLimits {
  /** Its heap (V8's old space, `--max-old-space-size`), in megabytes. */
  memoryMb: number;
  /** Its deadline, from its start, in milliseconds. */
  timeoutMs: number;
}

/** A worker stopped for using more memory or time than its limits allow. */
export class WorkerLimitError extends Error {
  constructor(
    readonly limit: "memory" | "time",
    options: { cause?: unknown } = {},
  ) {
    super(limit === "memory" ? "The document worker ran out of memory" : "The document worker ran out of time", options);
    this.name = "WorkerLimitError";
  }
}

/** Workers at once when not told otherwise: each may use `memoryMb`, so few, whatever the load. */
const DEFAULT_CONCURRENCY = 2;
/** The end of a worker's stderr kept, to tell a heap exhausted from another crash. */
const STDERR_KEPT = 4096;

/**
 * Runs document tasks off the event loop, each in a new Node process (so whatever a document made
 * it allocate is freed when it ends) with a heap limit and a deadline, at most `concurrency` at
 * once; further tasks wait their turn. A worker that runs out of memory or time is a
 * `WorkerLimitError`; the service itself is unaffected.
 *
 * Processes rather than worker threads: a thread's `resourceLimits` do not reliably contain a
 * heap that runs out, since V8 then aborts the whole process for some shapes of allocation (one
 * array grown by `push`, as pdf.js's lexer grows a string: nodejs/node#47224), and that is what a
 * PDF holding one huge compressed string does.
 */
export class DocumentWorkers {
  readonly limits: WorkerLimits;
  readonly #concurrency: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limits: WorkerLimits, options: { concurrency?: number } = {}) {
    this.limits = limits;
    this.#concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  }

  /** Runs `task` in a worker and resolves with its answer once the worker is gone. */
  async run(task: DocumentTask): Promise<TaskOutcome> {
    await this.#acquire();
    try {
      return await this.#runInWorker(task);
    } finally {
      this.#release();
    }
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.#concurrency) {
      this.#running += 1;
      return;
    }
    // The slot is handed over by `#release`, so `#running` stays counted.
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running -= 1;
  }

  #runInWorker(task: DocumentTask): Promise<TaskOutcome> {
    return new Promise((resolve, reject) => {
      let worker: ChildProcess;
      try {
        worker = fork(WORKER_SCRIPT, [], {
          // Only the heap limit: the script is plain JavaScript and needs none of the parent's
          // flags (tsx's loader, say).
          execArgv: [`--max-old-space-size=${this.limits.memoryMb}`],
          serialization: "advanced",
          stdio: ["ignore", "ignore", "pipe", "ipc"],
        });
      } catch (error) {
        reject(error);
        return;
      }
      let stderr = "";
      worker.stderr?.setEncoding("utf8").on("data", (text: string) => {
        stderr = (stderr + text).slice(-STDERR_KEPT);
      });
      let outcome: { value: TaskOutcome } | { error: unknown } | undefined;
      const deadline = setTimeout(() => {
        outcome ??= { error: new WorkerLimitError("time") };
        worker.kill("SIGKILL");
      }, this.limits.timeoutMs);
      worker.once("message", (message) => {
        outcome ??= { value: message as TaskOutcome };
        worker.kill("SIGKILL");
      });
      worker.once("error", (error) => {
        outcome ??= { error };
        worker.kill("SIGKILL");
      });
      // "close": the process has exited and its stderr is read to the end.
      worker.once("close", (code, signal) => {
        clearTimeout(deadline);
        if (outcome === undefined) {
          // V8 aborts (SIGABRT) when the heap is exhausted, saying so on stderr.
          const outOfMemory = signal === "SIGABRT" || /heap out of memory|Allocation failed/i.test(stderr);
          outcome = {
            error: outOfMemory ? new WorkerLimitError("memory") : new Error(`The document worker stopped (${signal ?? `exit code ${code}`}) without an answer: ${stderr.trim().slice(-500)}`),
          };
        }
        if ("value" in outcome) resolve(outcome.value);
        else reject(outcome.error);
      });
      worker.send(task, (error) => {
        if (error) {
          outcome ??= { error };
          worker.kill("SIGKILL");
        }
      });
    });
  }
}
