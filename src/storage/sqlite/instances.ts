import { DatabaseInUseError } from "../../errors.js";
import { isProcessAlive } from "../../process-alive.js";
import type { InstanceRepository } from "../instances.js";
import { SqliteThreadTables } from "./thread-tables.js";

/** Server instances in SQLite: who is alive, by heartbeat. */
export class SqliteInstances extends SqliteThreadTables implements InstanceRepository {

  async registerInstance(instanceId: string, options: { pid: number; staleMs: number }): Promise<void> {
    const now = Date.now();
    // IMMEDIATE: two servers starting at once cannot both find the file free.
    this.database.transaction(() => {
      const others = this.sql("SELECT instance_id, heartbeat_at, pid FROM instances WHERE instance_id <> ?").all(instanceId) as Array<{
        instance_id: string;
        heartbeat_at: string;
        pid: number | null;
      }>;
      // A crashed server leaves its row: it is stale soon, and its process is gone at once.
      // (No pid: a server of an earlier release, alive as long as it beats.)
      const live = others.find((other) => Date.parse(other.heartbeat_at) > now - options.staleMs && (other.pid === null || isProcessAlive(other.pid)));
      if (live) {
        throw new DatabaseInUseError(
          `Another server is using the database in ${this.database.directory} (instance ${live.instance_id}, pid ${live.pid ?? "unknown"}); stop it or use another DATA_DIR`,
        );
      }
      this.sql("INSERT INTO instances (instance_id, heartbeat_at, pid) VALUES (?, ?, ?) ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, pid = excluded.pid").run(
        instanceId,
        new Date(now).toISOString(),
        options.pid,
      );
    }, { write: true });
  }


  async heartbeat(instanceId: string): Promise<void> {
    this.sql("INSERT INTO instances (instance_id, heartbeat_at) VALUES (?, ?) ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at").run(
      instanceId,
      new Date().toISOString(),
    );
  }


  async removeInstance(instanceId: string): Promise<void> {
    this.sql("DELETE FROM instances WHERE instance_id = ?").run(instanceId);
  }

}
