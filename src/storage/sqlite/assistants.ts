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
import { canonicalJson } from "./canonical-json.js";
import type { SqliteDatabase } from "./database.js";
import { jsonPath } from "./thread-tables.js";

/** Assistants and their versions, numbered in a version table of their own. */
export const ASSISTANT_MIGRATIONS: MigrationSet = {
  table: "agent_assistant_migrations",
  steps: [
    `CREATE TABLE agent_assistants (
       assistant_id TEXT PRIMARY KEY,
       owner TEXT,
       is_system INTEGER NOT NULL DEFAULT 0,
       graph_id TEXT NOT NULL,
       name TEXT NOT NULL,
       description TEXT,
       config TEXT NOT NULL DEFAULT '{}',
       context TEXT NOT NULL DEFAULT '{}',
       metadata TEXT NOT NULL DEFAULT '{}',
       version INTEGER NOT NULL,
       created_at TEXT NOT NULL,
       updated_at TEXT NOT NULL
     );
     CREATE INDEX agent_assistants_owner_created ON agent_assistants (owner, created_at);
     CREATE TABLE agent_assistant_versions (
       assistant_id TEXT NOT NULL REFERENCES agent_assistants (assistant_id) ON DELETE CASCADE,
       version INTEGER NOT NULL,
       graph_id TEXT NOT NULL,
       name TEXT NOT NULL,
       description TEXT,
       config TEXT NOT NULL DEFAULT '{}',
       context TEXT NOT NULL DEFAULT '{}',
       metadata TEXT NOT NULL DEFAULT '{}',
       created_at TEXT NOT NULL,
       PRIMARY KEY (assistant_id, version)
     );`,
  ],
};

interface ContentRow {
  assistant_id: string;
  graph_id: string;
  name: string;
  description: string | null;
  config: string;
  context: string;
  metadata: string;
  version: number;
  created_at: string;
}

interface AssistantRow extends ContentRow {
  owner: string | null;
  is_system: number;
  updated_at: string;
}

const toVersion = (row: ContentRow): AssistantVersion => ({
  assistantId: row.assistant_id,
  graphId: row.graph_id,
  name: row.name,
  description: row.description,
  config: JSON.parse(row.config) as Record<string, unknown>,
  context: JSON.parse(row.context) as Record<string, unknown>,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  version: row.version,
  createdAt: new Date(row.created_at),
});

const toAssistant = (row: AssistantRow): Assistant => ({
  ...toVersion(row),
  owner: row.owner,
  system: row.is_system === 1,
  updatedAt: new Date(row.updated_at),
});

const SORT_COLUMNS = { assistant_id: "assistant_id", graph_id: "graph_id", name: "name", created_at: "created_at", updated_at: "updated_at" } as const;

/** A metadata filter as SQL: each key equal as a JSON value (see SqliteThreads), a missing key matching null. */
function metadataClauses(metadata: Record<string, unknown> | undefined, clauses: string[], parameters: unknown[]): void {
  for (const [key, value] of Object.entries(metadata ?? {})) {
    clauses.push("json_canonical(coalesce(metadata -> ?, 'null')) = ?");
    parameters.push(jsonPath(key), canonicalJson(value));
  }
}

/** Assistants in SQLite; each change is a transaction of its own, so versions never collide. */
export class SqliteAssistants implements AssistantRepository {
  constructor(private readonly database: SqliteDatabase) {}

  async setup(): Promise<void> {
    this.database.migrate(ASSISTANT_MIGRATIONS);
  }

  #now(): string {
    return this.database.clock.now().toISOString();
  }

  #row(assistantId: string, owner: string | undefined): AssistantRow | undefined {
    return (
      owner === undefined
        ? this.database.statement("SELECT * FROM agent_assistants WHERE assistant_id = ?").get(assistantId)
        : this.database.statement("SELECT * FROM agent_assistants WHERE assistant_id = ? AND (owner = ? OR is_system = 1)").get(assistantId, owner)
    ) as AssistantRow | undefined;
  }

  #insertVersion(assistantId: string, version: number, content: AssistantContent, createdAt: string): void {
    this.database
      .statement(
        `INSERT INTO agent_assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(assistantId, version, content.graphId, content.name, content.description, JSON.stringify(content.config), JSON.stringify(content.context), JSON.stringify(content.metadata), createdAt);
  }

  /** Puts `content` in use as `version` of the assistant. */
  #putInUse(assistantId: string, version: number, content: AssistantContent): AssistantRow {
    this.database
      .statement(
        `UPDATE agent_assistants SET graph_id = ?, name = ?, description = ?, config = ?, context = ?, metadata = ?, version = ?, updated_at = ?
         WHERE assistant_id = ?`,
      )
      .run(content.graphId, content.name, content.description, JSON.stringify(content.config), JSON.stringify(content.context), JSON.stringify(content.metadata), version, this.#now(), assistantId);
    return this.#row(assistantId, undefined) as AssistantRow;
  }

  async create(assistant: AssistantContent & { assistantId: string; owner?: string; system?: boolean }): Promise<Assistant | null> {
    const row = this.database.transaction(() => {
      const now = this.#now();
      const inserted = this.database
        .statement(
          `INSERT OR IGNORE INTO agent_assistants (assistant_id, owner, is_system, graph_id, name, description, config, context, metadata, version, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
        )
        .run(
          assistant.assistantId,
          assistant.owner ?? null,
          assistant.system ? 1 : 0,
          assistant.graphId,
          assistant.name,
          assistant.description,
          JSON.stringify(assistant.config),
          JSON.stringify(assistant.context),
          JSON.stringify(assistant.metadata),
          now,
          now,
        );
      if (inserted.changes === 0) return undefined;
      this.#insertVersion(assistant.assistantId, 1, assistant, now);
      return this.#row(assistant.assistantId, undefined);
    }, { write: true });
    return row ? toAssistant(row) : null;
  }

  async get(assistantId: string, owner?: string): Promise<Assistant | null> {
    const row = this.#row(assistantId, owner);
    return row ? toAssistant(row) : null;
  }

  async update(assistantId: string, patch: AssistantPatch, owner?: string): Promise<Assistant | null> {
    const row = this.database.transaction(() => {
      const current = this.#row(assistantId, owner);
      if (!current) return undefined;
      const { latest } = this.database.statement("SELECT max(version) AS latest FROM agent_assistant_versions WHERE assistant_id = ?").get(assistantId) as { latest: number | null };
      const version = (latest ?? 0) + 1;
      const content = patchedContent(toAssistant(current), patch);
      this.#insertVersion(assistantId, version, content, this.#now());
      return this.#putInUse(assistantId, version, content);
    }, { write: true });
    return row ? toAssistant(row) : null;
  }

  async setVersion(assistantId: string, version: number, owner?: string): Promise<Assistant | "no-version" | null> {
    const result = this.database.transaction(() => {
      if (!this.#row(assistantId, owner)) return null;
      const chosen = this.database.statement("SELECT * FROM agent_assistant_versions WHERE assistant_id = ? AND version = ?").get(assistantId, version) as ContentRow | undefined;
      if (!chosen) return "no-version" as const;
      return this.#putInUse(assistantId, version, toVersion(chosen));
    }, { write: true });
    return result === null || result === "no-version" ? result : toAssistant(result);
  }

  async delete(assistantId: string, owner?: string): Promise<boolean> {
    const result =
      owner === undefined
        ? this.database.statement("DELETE FROM agent_assistants WHERE assistant_id = ?").run(assistantId)
        : this.database.statement("DELETE FROM agent_assistants WHERE assistant_id = ? AND owner = ?").run(assistantId, owner);
    return result.changes > 0;
  }

  #where(filter: AssistantFilter): { sql: string; parameters: unknown[] } {
    const clauses: string[] = [];
    const parameters: unknown[] = [];
    if (filter.owner !== undefined) {
      clauses.push("(owner = ? OR is_system = 1)");
      parameters.push(filter.owner);
    }
    if (filter.graphId !== undefined) {
      clauses.push("graph_id = ?");
      parameters.push(filter.graphId);
    }
    if (filter.name !== undefined) {
      // instr, not LIKE: `%` and `_` in the name asked for are plain characters.
      clauses.push("instr(lower(name), lower(?)) > 0");
      parameters.push(filter.name);
    }
    metadataClauses(filter.metadata, clauses, parameters);
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "", parameters };
  }

  async search(search: AssistantSearch): Promise<Assistant[]> {
    const { sql, parameters } = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    const rows = this.database
      .statement(`SELECT * FROM agent_assistants ${sql} ORDER BY ${SORT_COLUMNS[search.sortBy]} ${direction}, assistant_id ${direction} LIMIT ? OFFSET ?`)
      .all(...parameters, search.limit, search.offset) as AssistantRow[];
    return rows.map(toAssistant);
  }

  async count(filter: AssistantFilter): Promise<number> {
    const { sql, parameters } = this.#where(filter);
    return (this.database.statement(`SELECT count(*) AS count FROM agent_assistants ${sql}`).get(...parameters) as { count: number }).count;
  }

  async listVersions(
    assistantId: string,
    options: { metadata?: Record<string, unknown>; limit: number; offset: number },
    owner?: string,
  ): Promise<AssistantVersion[] | null> {
    if (!this.#row(assistantId, owner)) return null;
    const clauses = ["assistant_id = ?"];
    const parameters: unknown[] = [assistantId];
    metadataClauses(options.metadata, clauses, parameters);
    const rows = this.database
      .statement(`SELECT * FROM agent_assistant_versions WHERE ${clauses.join(" AND ")} ORDER BY version DESC LIMIT ? OFFSET ?`)
      .all(...parameters, options.limit, options.offset) as ContentRow[];
    return rows.map(toVersion);
  }
}
