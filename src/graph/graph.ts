/**
 * The agent as configured by the environment: what `langgraph.json` exposes as graph `agent`,
 * and what code can import to talk to the same threads as the server.
 * Importing this module opens the SQLite file in `DATA_DIR`.
 */
import { loadConfig } from "../config.js";
import { createAgentFromConfig } from "../composition/agent-from-config.js";

const config = loadConfig();

/** The compiled agent on `DATA_DIR`'s SQLite database. */
export const graph = createAgentFromConfig(config).agent;
