import type { InstanceRepository } from "../instances.js";
import type { PostgresDatabase } from "./database.js";
import { threadMigrations } from "./thread-tables.js";

/** Server instances on PostgreSQL: who is alive, by heartbeat. */
export class PostgresInstances implements InstanceRepository {
  readonly #database: PostgresDatabase;
  readonly #schema: string;

  constructor(database: PostgresDatabase) {
    this.#database = database;
    this.#schema = database.schema;
  }

  /** Creates or migrates the tables of threads, runs, instances and run events (one version table for them); idempotent. */
  setup(): Promise<void> {
    return this.#database.migrate(threadMigrations(this.#schema));
  }


  async registerInstance(instanceId: string): Promise<void> {
    await this.heartbeat(instanceId);
  }


  async heartbeat(instanceId: string): Promise<void> {
    await this.#database.query(
      `INSERT INTO ${this.#schema}.agent_instances (instance_id, heartbeat_at) VALUES ($1, now())
       ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = now()`,
      [instanceId],
    );
  }


  async removeInstance(instanceId: string): Promise<void> {
    await this.#database.query(`DELETE FROM ${this.#schema}.agent_instances WHERE instance_id = $1`, [instanceId]);
  }

}
