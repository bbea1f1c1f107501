import type { InstanceRepository } from "../instances.js";
import { PostgresThreadTables } from "./thread-tables.js";

/** Server instances on PostgreSQL: who is alive, by heartbeat. */
export class PostgresInstances extends PostgresThreadTables implements InstanceRepository {

  async registerInstance(instanceId: string): Promise<void> {
    await this.heartbeat(instanceId);
  }


  async heartbeat(instanceId: string): Promise<void> {
    await this.database.query(
      `INSERT INTO ${this.schema}.agent_instances (instance_id, heartbeat_at) VALUES ($1, now())
       ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = now()`,
      [instanceId],
    );
  }


  async removeInstance(instanceId: string): Promise<void> {
    await this.database.query(`DELETE FROM ${this.schema}.agent_instances WHERE instance_id = $1`, [instanceId]);
  }

}
