import type { PoolClient } from "pg";
import type { MigrationSet } from "../migrations.js";
import {
  type Assistant,
  type AssistantContent,
  type AssistantFilter,
  type AssistantPatch,
  type AssistantRepository,
  type AssistantSearch,
  type AssistantVersion,
  patchedContent,
} from "../assistants.js";
import type { PostgresDatabase } from "./database.js";

/** The newest tables of assistants, for a new install and as version 1 both. */
const tables = (schema: string) => `CREATE TABLE ${schema}.agent_assistants (
     assistant_id TEXT COLLATE "C" PRIMARY KEY,
     owner TEXT,
     is_system BOOLEAN NOT NULL DEFAULT false,
     graph_id TEXT COLLATE "C" NOT NULL,
     name TEXT COLLATE "C" NOT NULL,
     description TEXT,
     config JSONB NOT NULL DEFAULT '{}',
     context JSONB NOT NULL DEFAULT '{}',
     metadata JSONB NOT NULL DEFAULT '{}',
     version INTEGER NOT NULL,
     created_at TIMESTAMPTZ NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL
   );
   CREATE INDEX agent_assistants_owner_created ON ${schema}.agent_assistants (owner, created_at);
   CREATE TABLE ${schema}.agent_assistant_versions (
     assistant_id TEXT COLLATE "C" NOT NULL REFERENCES ${schema}.agent_assistants (assistant_id) ON DELETE CASCADE,
     version INTEGER NOT NULL,
     graph_id TEXT COLLATE "C" NOT NULL,
     name TEXT COLLATE "C" NOT NULL,
     description TEXT,
     config JSONB NOT NULL DEFAULT '{}',
     context JSONB NOT NULL DEFAULT '{}',
     metadata JSONB NOT NULL DEFAULT '{}',
     created_at TIMESTAMPTZ NOT NULL,
     PRIMARY KEY (assistant_id, version)
   );`;

/** Assistants and their versions, numbered in `agent_assistant_migrations`; a new install runs the baseline. */
export const assistantMigrations = (schema: string): MigrationSet => ({
  table: "agent_assistant_migrations",
  baseline: tables(schema),
  steps: [tables(schema)],
});

interface ContentRow {
  assistant_id: string;
  graph_id: string;
  name: string;
  description: string | null;
  config: Record<string, unknown>;
  context: Record<string, unknown>;
  metadata: Record<string, unknown>;
  version: number;
  created_at: Date;
}

interface AssistantRow extends ContentRow {
  owner: string | null;
  is_system: boolean;
  updated_at: Date;
}

const toVersion = (row: ContentRow): AssistantVersion => ({
  assistantId: row.assistant_id,
  graphId: row.graph_id,
  name: row.name,
  description: row.description,
  config: row.config,
  context: row.context,
  metadata: row.metadata,
  version: row.version,
  createdAt: row.created_at,
});

const toAssistant = (row: AssistantRow): Assistant => ({ ...toVersion(row), owner: row.owner, system: row.is_system, updatedAt: row.updated_at });

const SORT_COLUMNS = { assistant_id: "assistant_id", graph_id: "graph_id", name: "name", created_at: "created_at", updated_at: "updated_at" } as const;

/** Builds a WHERE clause with numbered placeholders. */
class Clauses {
  readonly clauses: string[] = [];
  readonly parameters: unknown[] = [];

  add(clause: (...placeholders: string[]) => string, ...values: unknown[]): void {
    const placeholders = values.map((value) => {
      this.parameters.push(value);
      return `$${this.parameters.length}`;
    });
    this.clauses.push(clause(...placeholders));
  }

  /** Each key equal as a JSON value; a missing key matches null, as in the SQLite store. */
  metadata(metadata: Record<string, unknown> | undefined): void {
    for (const [key, value] of Object.entries(metadata ?? {})) {
      this.add((name, json) => `coalesce(metadata -> ${name}, 'null'::jsonb) = ${json}::jsonb`, key, JSON.stringify(value));
    }
  }

  get sql(): string {
    return this.clauses.length > 0 ? `WHERE ${this.clauses.join(" AND ")}` : "";
  }
}

/**
 * Assistants on PostgreSQL, shared by every instance on the database: a change locks the
 * assistant's row, so two instances changing one assistant at once make two versions in turn.
 */
export class PostgresAssistants implements AssistantRepository {
  readonly #schema: string;

  constructor(private readonly database: PostgresDatabase) {
    this.#schema = database.schema;
  }

  setup(): Promise<void> {
    return this.database.migrate(assistantMigrations(this.#schema));
  }

  /** The row, locked until the transaction ends, if `owner` may see it. */
  async #lockRow(client: PoolClient, assistantId: string, owner: string | undefined): Promise<AssistantRow | undefined> {
    const { rows } =
      owner === undefined
        ? await client.query<AssistantRow>(`SELECT * FROM ${this.#schema}.agent_assistants WHERE assistant_id = $1 FOR UPDATE`, [assistantId])
        : await client.query<AssistantRow>(`SELECT * FROM ${this.#schema}.agent_assistants WHERE assistant_id = $1 AND (owner = $2 OR is_system) FOR UPDATE`, [
            assistantId,
            owner,
          ]);
    return rows[0];
  }

  async #insertVersion(client: PoolClient, assistantId: string, version: number, content: AssistantContent, createdAt: Date): Promise<void> {
    await client.query(
      `INSERT INTO ${this.#schema}.agent_assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [assistantId, version, content.graphId, content.name, content.description, JSON.stringify(content.config), JSON.stringify(content.context), JSON.stringify(content.metadata), createdAt],
    );
  }

  async #putInUse(client: PoolClient, assistantId: string, version: number, content: AssistantContent): Promise<AssistantRow> {
    const { rows } = await client.query<AssistantRow>(
      `UPDATE ${this.#schema}.agent_assistants SET graph_id = $2, name = $3, description = $4, config = $5, context = $6, metadata = $7, version = $8, updated_at = $9
       WHERE assistant_id = $1 RETURNING *`,
      [assistantId, content.graphId, content.name, content.description, JSON.stringify(content.config), JSON.stringify(content.context), JSON.stringify(content.metadata), version, this.database.clock.now()],
    );
    return rows[0] as AssistantRow;
  }

  async create(assistant: AssistantContent & { assistantId: string; owner?: string; system?: boolean }): Promise<Assistant | null> {
    const row = await this.database.transaction(async (client) => {
      const now = this.database.clock.now();
      const { rows } = await client.query<AssistantRow>(
        `INSERT INTO ${this.#schema}.agent_assistants (assistant_id, owner, is_system, graph_id, name, description, config, context, metadata, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) ON CONFLICT (assistant_id) DO NOTHING RETURNING *`,
        [
          assistant.assistantId,
          assistant.owner ?? null,
          assistant.system ?? false,
          assistant.graphId,
          assistant.name,
          assistant.description,
          JSON.stringify(assistant.config),
          JSON.stringify(assistant.context),
          JSON.stringify(assistant.metadata),
          now,
        ],
      );
      if (!rows[0]) return undefined;
      await this.#insertVersion(client, assistant.assistantId, 1, assistant, now);
      return rows[0];
    });
    return row ? toAssistant(row) : null;
  }

  async get(assistantId: string, owner?: string): Promise<Assistant | null> {
    const { rows } =
      owner === undefined
        ? await this.database.query<AssistantRow>(`SELECT * FROM ${this.#schema}.agent_assistants WHERE assistant_id = $1`, [assistantId])
        : await this.database.query<AssistantRow>(`SELECT * FROM ${this.#schema}.agent_assistants WHERE assistant_id = $1 AND (owner = $2 OR is_system)`, [assistantId, owner]);
    return rows[0] ? toAssistant(rows[0]) : null;
  }

  async update(assistantId: string, patch: AssistantPatch, owner?: string): Promise<Assistant | null> {
    const row = await this.database.transaction(async (client) => {
      const current = await this.#lockRow(client, assistantId, owner);
      if (!current) return undefined;
      const { rows } = await client.query<{ latest: number | null }>(
        `SELECT max(version) AS latest FROM ${this.#schema}.agent_assistant_versions WHERE assistant_id = $1`,
        [assistantId],
      );
      const version = (rows[0]?.latest ?? 0) + 1;
      const content = patchedContent(toAssistant(current), patch);
      await this.#insertVersion(client, assistantId, version, content, this.database.clock.now());
      return this.#putInUse(client, assistantId, version, content);
    });
    return row ? toAssistant(row) : null;
  }

  async setVersion(assistantId: string, version: number, owner?: string): Promise<Assistant | "no-version" | null> {
    const result = await this.database.transaction(async (client) => {
      if (!(await this.#lockRow(client, assistantId, owner))) return null;
      const { rows } = await client.query<ContentRow>(`SELECT * FROM ${this.#schema}.agent_assistant_versions WHERE assistant_id = $1 AND version = $2`, [
        assistantId,
        version,
      ]);
      if (!rows[0]) return "no-version" as const;
      return this.#putInUse(client, assistantId, version, toVersion(rows[0]));
    });
    return result === null || result === "no-version" ? result : toAssistant(result);
  }

  async delete(assistantId: string, owner?: string): Promise<boolean> {
    const result =
      owner === undefined
        ? await this.database.query(`DELETE FROM ${this.#schema}.agent_assistants WHERE assistant_id = $1`, [assistantId])
        : await this.database.query(`DELETE FROM ${this.#schema}.agent_assistants WHERE assistant_id = $1 AND owner = $2`, [assistantId, owner]);
    return (result.rowCount ?? 0) > 0;
  }

  #where(filter: AssistantFilter): Clauses {
    const where = new Clauses();
    if (filter.owner !== undefined) where.add((owner) => `(owner = ${owner} OR is_system)`, filter.owner);
    if (filter.graphId !== undefined) where.add((graphId) => `graph_id = ${graphId}`, filter.graphId);
    // strpos, not LIKE: `%` and `_` in the name asked for are plain characters.
    if (filter.name !== undefined) where.add((name) => `strpos(lower(name), lower(${name})) > 0`, filter.name);
    where.metadata(filter.metadata);
    return where;
  }

  async search(search: AssistantSearch): Promise<Assistant[]> {
    const where = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    const count = where.parameters.length;
    const { rows } = await this.database.query<AssistantRow>(
      `SELECT * FROM ${this.#schema}.agent_assistants ${where.sql} ORDER BY ${SORT_COLUMNS[search.sortBy]} ${direction}, assistant_id ${direction}
       LIMIT $${count + 1} OFFSET $${count + 2}`,
      [...where.parameters, search.limit, search.offset],
    );
    return rows.map(toAssistant);
  }

  async count(filter: AssistantFilter): Promise<number> {
    const where = this.#where(filter);
    const { rows } = await this.database.query<{ count: string }>(`SELECT count(*) AS count FROM ${this.#schema}.agent_assistants ${where.sql}`, where.parameters);
    return Number(rows[0]?.count ?? 0);
  }

  async listVersions(
    assistantId: string,
    options: { metadata?: Record<string, unknown>; limit: number; offset: number },
    owner?: string,
  ): Promise<AssistantVersion[] | null> {
    if (!(await this.get(assistantId, owner))) return null;
    const where = new Clauses();
    where.add((id) => `assistant_id = ${id}`, assistantId);
    where.metadata(options.metadata);
    const count = where.parameters.length;
    const { rows } = await this.database.query<ContentRow>(
      `SELECT * FROM ${this.#schema}.agent_assistant_versions ${where.sql} ORDER BY version DESC LIMIT $${count + 1} OFFSET $${count + 2}`,
      [...where.parameters, options.limit, options.offset],
    );
    return rows.map(toVersion);
  }
}
