// @ts-check
/**
 * Folds the write-ahead log back into the database file, off the server's event loop (see
 * wal-checkpoints.ts). A worker thread with a connection of its own that, every `intervalMs`,
 * runs a PASSIVE checkpoint: it copies what it can without waiting for, or blocking, the server's
 * connection, and syncs the file. Plain JavaScript, so that it runs as it is under node, tsx and
 * vitest alike (a TypeScript worker would need a loader in each).
 *
 * In: `workerData` `{ path, intervalMs }`. A checkpoint that fails ends the worker: the server
 * then goes back to checkpointing on its own connection.
 */
import Database from "better-sqlite3";
import { workerData } from "node:worker_threads";

const { path, intervalMs } = /** @type {{ path: string; intervalMs: number }} */ (workerData);
const connection = new Database(path, { fileMustExist: true });
// Never wait for a lock: a checkpoint that cannot run now runs at the next tick.
connection.pragma("busy_timeout = 0");

setInterval(() => {
  try {
    connection.pragma("wal_checkpoint(PASSIVE)");
  } catch (error) {
    // SQLITE_BUSY: another checkpoint is under way (the server's own, as a backstop); not a failure.
    if (/** @type {{ code?: string }} */ (error).code === "SQLITE_BUSY") return;
    // Ends this thread, not the process.
    process.exit(1);
  }
}, intervalMs);
