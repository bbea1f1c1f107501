/**
 * The Database of each backend: one migration runner for every part (steps applied once and
 * recorded, all of a set or none of it, adoption of an earlier release's tables, a baseline for
 * new installs, a refusal to touch a database a newer release wrote), and on PostgreSQL the
 * statement cache surviving a table changed under a prepared statement.
 */
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { MigrationSet } from "../../src/storage/migrations.js";
import { PostgresDatabase } from "../../src/storage/postgres/database.js";
import { SqliteDatabase } from "../../src/storage/sqlite/database.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";

interface Backend {
  /** A database object on the shared file or schema, as another process or instance would open it. */
  open(): SqliteDatabase | PostgresDatabase;
  /** The names of the tables there. */
  tables(): Promise<string[]>;
  /** One SQL value. */
  value(sql: string): Promise<unknown>;
  /** Table names as SQL writes them (PostgreSQL qualifies them with the schema). */
  name(table: string): string;
  /** SQL answering `version` 1 when `table` exists, else 0. */
  exists(table: string): string;
  dispose(): Promise<void>;
}

const reachable = await postgresReachable();
const pool = reachable ? new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 }) : undefined;
afterAll(() => pool?.end());

function sqliteBackend(): Backend {
  const dir = makeTempDir();
  const opened: SqliteDatabase[] = [];
  const path = join(dir, "test.sqlite");
  const any = () => opened[0] ?? (opened.push(new SqliteDatabase(path)), opened[0]!);
  return {
    open() {
      const database = new SqliteDatabase(path);
      opened.push(database);
      return database;
    },
    async tables() {
      return (any().connection.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((row) => row.name);
    },
    async value(sql) {
      return Object.values(any().connection.prepare(sql).get() as object)[0];
    },
    name: (table) => table,
    exists: (table) => `SELECT count(*) AS version FROM sqlite_master WHERE type = 'table' AND name = '${table}'`,
    async dispose() {
      for (const database of opened) database.close();
      removeDir(dir);
    },
  };
}

function postgresBackend(): Backend {
  const schema = schemaName();
  return {
    open: () => new PostgresDatabase(pool!, { schema }),
    async tables() {
      const { rows } = await pool!.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [schema]);
      return rows.map((row) => row.table_name as string);
    },
    async value(sql) {
      const { rows } = await pool!.query(sql);
      return Object.values(rows[0] as object)[0];
    },
    name: (table) => `${schema}.${table}`,
    exists: (table) => `SELECT count(*)::int AS version FROM information_schema.tables WHERE table_schema = '${schema}' AND table_name = '${table}'`,
    dispose: () => dropSchema(pool!, schema),
  };
}

const backends: Array<[string, () => Backend]> = [["sqlite", sqliteBackend], ...(reachable ? [["postgres", postgresBackend] as [string, () => Backend]] : [])];

describe.each(backends)("the migration runner on %s", (_name, create) => {
  const notes = (backend: Backend, steps: string[], extra: Partial<MigrationSet> = {}): MigrationSet => ({
    table: "notes_migrations",
    steps: steps.map((step) => step.replaceAll("{notes}", backend.name("notes"))),
    ...extra,
  });
  const V1 = "CREATE TABLE {notes} (id INTEGER PRIMARY KEY, body TEXT NOT NULL)";
  const V2 = "ALTER TABLE {notes} ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0";

  it("applies each step once, records it, and leaves a second opener nothing to do", async () => {
    const backend = create();
    try {
      await backend.open().migrate(notes(backend, [V1]));
      await backend.open().migrate(notes(backend, [V1, V2]));
      await backend.open().migrate(notes(backend, [V1, V2]));
      expect(await backend.tables()).toEqual(["notes", "notes_migrations"]);
      expect(Number(await backend.value(`SELECT count(*) FROM ${backend.name("notes_migrations")}`))).toBe(2);
      expect(Number(await backend.value(`SELECT max(version) FROM ${backend.name("notes_migrations")}`))).toBe(2);
      expect(Number(await backend.value(`SELECT count(pinned) FROM ${backend.name("notes")}`))).toBe(0);
    } finally {
      await backend.dispose();
    }
  });

  it("keeps nothing of a set whose step fails, and records no version", async () => {
    const backend = create();
    try {
      await expect(Promise.resolve().then(() => backend.open().migrate(notes(backend, [V1, "ALTER TABLE {notes} ADD COLUMN nonsense NOT A TYPE"])))).rejects.toThrow();
      expect(await backend.tables()).toEqual([]);
    } finally {
      await backend.dispose();
    }
  });

  it("refuses a database a newer release wrote, naming the version, and changes nothing", async () => {
    const backend = create();
    try {
      await backend.open().migrate(notes(backend, [V1, V2]));
      await expect(Promise.resolve().then(() => backend.open().migrate(notes(backend, [V1])))).rejects.toThrow(/version 2 of notes_migrations, newer than this release knows \(1\)/);
      expect(Number(await backend.value(`SELECT max(version) FROM ${backend.name("notes_migrations")}`))).toBe(2);
    } finally {
      await backend.dispose();
    }
  });

  it("adopts tables an earlier release made without the version table, and goes on from there", async () => {
    const backend = create();
    try {
      // The earlier release: version 1's table, no version table.
      await backend.open().migrate({ table: "earlier_migrations", steps: [V1.replaceAll("{notes}", backend.name("notes"))] });
      await backend.open().migrate(notes(backend, [V1, V2], { adopt: backend.exists("notes") }));
      expect(Number(await backend.value(`SELECT count(*) FROM ${backend.name("notes_migrations")}`))).toBe(2);
      expect(Number(await backend.value(`SELECT count(pinned) FROM ${backend.name("notes")}`))).toBe(0);
    } finally {
      await backend.dispose();
    }
  });

  it("runs every step where there is nothing to adopt", async () => {
    const backend = create();
    try {
      await backend.open().migrate(notes(backend, [V1, V2], { adopt: backend.exists("notes") }));
      expect(Number(await backend.value(`SELECT count(pinned) FROM ${backend.name("notes")}`))).toBe(0);
      expect(Number(await backend.value(`SELECT max(version) FROM ${backend.name("notes_migrations")}`))).toBe(2);
    } finally {
      await backend.dispose();
    }
  });

  it("builds a new install from the baseline alone, recording every version", async () => {
    const backend = create();
    try {
      const baseline = `CREATE TABLE ${backend.name("notes")} (id INTEGER PRIMARY KEY, body TEXT NOT NULL, pinned INTEGER NOT NULL DEFAULT 0)`;
      // A step that would fail shows it is never run.
      await backend.open().migrate(notes(backend, ["SELECT nonsense FROM nowhere", V2], { baseline }));
      expect(await backend.tables()).toEqual(["notes", "notes_migrations"]);
      expect(Number(await backend.value(`SELECT max(version) FROM ${backend.name("notes_migrations")}`))).toBe(2);
    } finally {
      await backend.dispose();
    }
  });
});

describe.skipIf(!reachable)("PostgreSQL's statement cache", () => {
  it("answers after another instance changes a table under a prepared SELECT *", async () => {
    const schema = schemaName();
    const database = new PostgresDatabase(pool!, { schema });
    try {
      await database.migrate({ table: "t_migrations", steps: [`CREATE TABLE ${schema}.t (id INTEGER PRIMARY KEY); INSERT INTO ${schema}.t VALUES (1)`] });
      // Prepared on every pooled connection that runs it.
      for (let round = 0; round < 8; round += 1) expect((await database.query(`SELECT * FROM ${schema}.t`)).rows).toEqual([{ id: 1 }]);
      await pool!.query(`ALTER TABLE ${schema}.t ADD COLUMN note TEXT`);
      for (let round = 0; round < 8; round += 1) expect((await database.query(`SELECT * FROM ${schema}.t`)).rows).toEqual([{ id: 1, note: null }]);
    } finally {
      await dropSchema(pool!, schema);
    }
  });

  it("ends only a pool it opened, once", async () => {
    const own = PostgresDatabase.connect(TEST_DATABASE_URL, { schema: schemaName(), poolSize: 1 });
    await own.close();
    await own.close();
    expect(own.pool.ended).toBe(true);
    const borrowed = new PostgresDatabase(pool!, { schema: schemaName() });
    await borrowed.close();
    expect((await pool!.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });
});

describe("SQLite transactions", () => {
  const open = () => {
    const database = new SqliteDatabase(":memory:");
    database.connection.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
    return database;
  };
  const texts = (database: SqliteDatabase) => (database.connection.prepare("SELECT text FROM notes ORDER BY id").all() as Array<{ text: string }>).map((row) => row.text);
  const insert = (database: SqliteDatabase, text: string) => database.connection.prepare("INSERT INTO notes (text) VALUES (?)").run(text);

  it("commits what the work wrote and returns its value; read or write, the same", () => {
    const database = open();
    expect(database.transaction(() => insert(database, "a").changes)).toBe(1);
    expect(database.transaction(() => insert(database, "b").changes, { write: true })).toBe(1);
    expect(texts(database)).toEqual(["a", "b"]);
    expect(database.connection.inTransaction).toBe(false);
  });

  it("rolls all of it back when the work throws, and passes the error on; the next transaction starts clean", () => {
    const database = open();
    expect(() =>
      database.transaction(() => {
        insert(database, "lost");
        throw new Error("failed halfway");
      }, { write: true }),
    ).toThrow("failed halfway");
    expect(database.connection.inTransaction).toBe(false);
    // A constraint failure inside: the statement's error, nothing kept.
    expect(() => database.transaction(() => database.connection.prepare("INSERT INTO notes (text) VALUES (NULL)").run())).toThrow(/NOT NULL/);
    database.transaction(() => insert(database, "kept"));
    expect(texts(database)).toEqual(["kept"]);
  });

  it("a nested transaction is a savepoint: its failure undoes it alone, the outer one goes on and commits", () => {
    const database = open();
    database.transaction(() => {
      insert(database, "outer");
      expect(() =>
        database.transaction(() => {
          insert(database, "inner");
          throw new Error("inner failed");
        }),
      ).toThrow("inner failed");
      database.transaction(() => insert(database, "inner kept"));
    });
    expect(texts(database)).toEqual(["outer", "inner kept"]);
  });

  it("refuses async work, which would commit before it ran, and keeps none of it", async () => {
    const database = open();
    expect(() =>
      database.transaction(() => {
        insert(database, "before the await");
        return Promise.resolve();
      }),
    ).toThrow(/must not be async/);
    expect(texts(database)).toEqual([]);
    expect(database.connection.inTransaction).toBe(false);
  });
});
