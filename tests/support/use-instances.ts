import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { removeDir } from "./fixtures.js";
import { type OpenAiStub, startOpenAiStub } from "./openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "./postgres.js";
import { type TestServer, startServer } from "./server.js";

type StartOptions = NonNullable<Parameters<typeof startServer>[1]>;

/**
 * For a file about several server instances on one PostgreSQL database: one stub model they all
 * call, instances started on a schema of the file's own (`start`), every one closed after the
 * file and the schemas dropped. `reachable` is false when no PostgreSQL answers: the file's tests
 * skip then.
 */
export async function useInstances() {
  const reachable = await postgresReachable();
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  const schemas = [schemaName()];
  const servers: TestServer[] = [];
  let stub: OpenAiStub | undefined;
  const stubModel = (): OpenAiStub => {
    if (!stub) throw new Error("the stub model starts in beforeAll");
    return stub;
  };
  beforeAll(async () => {
    stub = await startOpenAiStub();
  });
  afterAll(async () => {
    stub?.reset();
    // The schema is the file's, dropped below; each instance's own folder goes now.
    for (const server of servers) {
      await server.close({ keepData: true });
      removeDir(server.dataDir);
    }
    await stub?.close();
    if (reachable) for (const schema of schemas) await dropSchema(pool, schema);
    await pool.end();
  });
  return {
    reachable,
    /** A connection of the test's own, for what no instance offers. */
    pool,
    /** The file's schema. */
    schema: schemas[0]!,
    get stub(): OpenAiStub {
      return stubModel();
    },
    /** Another schema, dropped after the file too. */
    newSchema(): string {
      const schema = schemaName();
      schemas.push(schema);
      return schema;
    },
    /**
     * An instance on `schema` (the file's by default), closed after the file unless the test closes
     * it. `options.env` adds settings (CORS_ORIGINS, say); the database ones are always the file's.
     */
    async start(options: Omit<StartOptions, "backend"> = {}, schema = schemas[0]!): Promise<TestServer> {
      const server = await startServer(stubModel(), { ...options, env: { ...options.env, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema } });
      servers.push(server);
      return server;
    },
  };
}
