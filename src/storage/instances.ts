/** Server instances on one database, and whether each is alive. */
export interface InstanceRepository {
  /** Creates or migrates the tables; idempotent. */
  setup(): Promise<void>;
  /**
   * Records a starting server instance as alive (its first heartbeat). Where one server process
   * owns the database (SQLite), throws `DatabaseInUseError` instead when another instance's
   * process is alive and beat within `staleMs`: two servers on one file would each take the
   * other for dead and undo its runs.
   */
  registerInstance(instanceId: string, options: { pid: number; staleMs: number }): Promise<void>;
  /** Records that server instance `instanceId` is alive (call it every heartbeat interval). */
  heartbeat(instanceId: string): Promise<void>;
  /** Forgets an instance that stopped cleanly. */
  removeInstance(instanceId: string): Promise<void>;
}
