/**
 * Checkpoints of a busy SQLite file's write-ahead log run in a worker thread, not in the commit
 * that crosses SQLite's threshold on the server's event loop: once a database has committed a few
 * hundred transactions, what it wrote reaches the database file itself without the server's
 * connection ever checkpointing (its own threshold is far above what the test writes); closing
 * the database ends the worker; a worker that fails hands checkpoints back to the connection.
 */
import BetterSqlite3 from "better-sqlite3";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteDatabase } from "../../src/storage/sqlite/database.js";
import { WalCheckpoints } from "../../src/storage/sqlite/wal-checkpoints.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { until } from "../support/until.js";

const dirs: string[] = [];
const newDir = () => {
  const dir = makeTempDir();
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

/** Writes `count` transactions of one 4 KiB row each. */
const write = (database: SqliteDatabase, count: number) => {
  for (let index = 0; index < count; index += 1) {
    database.transaction(() => database.statement("INSERT INTO notes (text) VALUES (?)").run("x".repeat(4096)), { write: true });
  }
};

describe("WAL checkpoints in a worker thread", () => {
  it("start once a file database is busy, and fold its log into the file while the connection itself never checkpoints", async () => {
    const database = SqliteDatabase.inDirectory(newDir());
    try {
      database.connection.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
      write(database, 200);
      expect(database.checkpointsInBackground).toBe(false);
      // Under SQLite's own threshold (1,000 pages): nothing has reached the file yet.
      const before = statSync(database.path).size;
      expect(before).toBeLessThan(200 * 4096);
      write(database, 100);
      expect(database.checkpointsInBackground).toBe(true);
      // The connection's own threshold is now far above what 300 rows take.
      expect(database.connection.pragma("wal_autocheckpoint", { simple: true })).toBeGreaterThan(10_000);
      await until(() => statSync(database.path).size >= 300 * 4096);
      // The rows are whole: the log and the file agree.
      expect(database.connection.prepare("SELECT count(*) AS count, sum(length(text)) AS length FROM notes").get()).toEqual({ count: 300, length: 300 * 4096 });
    } finally {
      database.close();
    }
    expect(database.checkpointsInBackground).toBe(false);
  });

  it("never start for an in-memory database", () => {
    const database = new SqliteDatabase(":memory:");
    database.connection.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
    write(database, 300);
    expect(database.checkpointsInBackground).toBe(false);
    database.close();
  });

  it("a worker that cannot checkpoint hands checkpoints back to the connection, at SQLite's default threshold", async () => {
    const path = join(newDir(), "gone.sqlite");
    const connection = new BetterSqlite3(path);
    connection.pragma("journal_mode = WAL");
    // The worker opens the file by its path, which no longer exists.
    rmSync(path);
    const checkpoints = new WalCheckpoints(connection, { intervalMs: 10 });
    await until(() => !checkpoints.running);
    expect(connection.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    connection.close();
  });
});
