/**
 * Import rules for src/, checked by `npm test` (`npm run lint:deps`) with dependency-cruiser.
 *
 * Direction (each layer imports only layers before it):
 *   lib → config/errors → storage types → storage backends → composition → server | cli → main
 * with the domain code of src/graph and src/retrieval beside the storage types: it imports them,
 * never a backend. Type-only imports count (tsPreCompilationDeps), so a circle through a type is a
 * circle too: move the type to a module of its own (see src/server/app-deps.ts).
 *
 * A new module lands in its folder's layer; a new top-level file of src/ is lib until named here.
 */

/** Helpers that import nothing else from src/. */
const LIB = ["^src/(?!(config|errors|logger|index|main)\\.ts$)[^/]+$"];
/** Settings, the one error family, the logger. */
const CONFIG = ["^src/(config|errors|logger)\\.ts$"];
/** What storage offers, as interfaces, records and the migration runner: the files directly in src/storage/, but open-storage.ts. */
const STORAGE_TYPES = ["^src/storage/(?!open-storage\\.ts$)[^/]+$"];
/** SQLite, PostgreSQL and in-memory implementations, and the message log both checkpointers share. */
const STORAGE_BACKENDS = ["^src/storage/(sqlite|postgres|memory|message-log)/"];
/**
 * Picks backends and builds the agent from config: openStorage, the agent from the environment,
 * the graph langgraph.json names (src/graph/graph.ts) and src/index.ts, the library's public face.
 */
const COMPOSITION = ["^src/composition/", "^src/storage/open-storage\\.ts$", "^src/graph/graph\\.ts$", "^src/index\\.ts$"];
/** The agent and retrieval logic. */
const DOMAIN = ["^src/(graph|retrieval)/"];
const DOMAIN_NOT = COMPOSITION;
const SERVER = ["^src/server/"];
const CLI = ["^src/cli/"];
const MAIN = ["^src/main\\.ts$"];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import circle in src/. Break it: move what both sides need into a module of its own that imports neither.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-import-of-main",
      severity: "error",
      comment: "src/main.ts is the entry point: it starts the server and nothing imports it.",
      from: { path: "^src/" },
      to: { path: MAIN },
    },
    {
      name: "graph-retrieval-not-to-server-cli",
      severity: "error",
      comment: "src/graph and src/retrieval are below the server and the CLI: they must not import src/server or src/cli.",
      from: { path: "^src/(graph|retrieval)/" },
      to: { path: "^src/(server|cli)/" },
    },
    {
      name: "lib-imports-nothing",
      severity: "error",
      comment: "A lib helper imports no other module of src/. If it needs config, errors or more, it is not lib: name its layer in .dependency-cruiser.cjs.",
      from: { path: LIB },
      to: { path: "^src/", pathNot: LIB },
    },
    {
      name: "config-imports-lib-only",
      severity: "error",
      comment: "config, errors and logger sit under everything but lib: they import nothing else from src/.",
      from: { path: CONFIG },
      to: { path: "^src/", pathNot: [...LIB, ...CONFIG] },
    },
    {
      name: "storage-types-import-no-implementation",
      severity: "error",
      comment: "Storage interfaces import only lib, config/errors and other storage types; never a backend, the domain or anything above.",
      from: { path: STORAGE_TYPES },
      to: { path: "^src/", pathNot: [...LIB, ...CONFIG, ...STORAGE_TYPES] },
    },
    {
      name: "storage-backends-not-upward",
      severity: "error",
      comment: "A storage backend implements storage types; it must not import the agent or retrieval logic, composition, the server, the CLI or main.",
      from: { path: STORAGE_BACKENDS },
      to: { path: [...DOMAIN, ...COMPOSITION, ...SERVER, ...CLI, ...MAIN], pathNot: [...LIB, ...STORAGE_TYPES, ...STORAGE_BACKENDS] },
    },
    {
      name: "domain-not-to-backends-or-above",
      severity: "error",
      comment: "Graph and retrieval logic use storage through its types; only composition (storage/open-storage.ts) picks a backend.",
      from: { path: DOMAIN, pathNot: DOMAIN_NOT },
      to: { path: [...STORAGE_BACKENDS, ...COMPOSITION, ...SERVER, ...CLI, ...MAIN] },
    },
    {
      name: "composition-not-to-server-cli",
      severity: "error",
      comment: "Composition (src/composition, storage/open-storage.ts, graph/graph.ts, index.ts) builds what the server and the CLI use; it must not import them.",
      from: { path: COMPOSITION },
      to: { path: [...SERVER, ...CLI, ...MAIN] },
    },
    {
      name: "server-not-to-cli",
      severity: "error",
      comment: "The server and the CLI are siblings: the server must not import src/cli.",
      from: { path: SERVER },
      to: { path: CLI },
    },
    {
      name: "cli-not-to-server",
      severity: "error",
      comment: "The server and the CLI are siblings: the CLI may use storage, not the HTTP service.",
      from: { path: CLI },
      to: { path: SERVER },
    },
    {
      name: "server-cli-name-no-backend",
      severity: "error",
      comment: "The server and the CLI take storage through its types (Storage, ThreadStore, ...); only openStorage names a backend.",
      from: { path: [...SERVER, ...CLI, ...MAIN] },
      to: { path: STORAGE_BACKENDS },
    },
    {
      name: "backends-not-each-other",
      severity: "error",
      comment: "SQLite and PostgreSQL code stay apart: what both need belongs in src/storage (types, the runner) or src/storage/message-log.",
      from: { path: "^src/storage/(sqlite|postgres)/" },
      to: { path: "^src/storage/(sqlite|postgres)/", pathNot: "^src/storage/$1/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // The browser app is plain scripts with no imports into src/.
    exclude: { path: "^src/web/" },
    // Count `import type` too: a circle through a type is still a circle a reader has to untangle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"] },
    skipAnalysisNotInRules: true,
  },
};
