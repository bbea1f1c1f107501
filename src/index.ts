/**
 * stateful-agent from code: build an agent with your own model and checkpointer, or from the
 * environment like the server does. `src/graph/graph.ts` exports the ready-made `graph`.
 */
export { type Config, loadConfig, loadDotEnv } from "./config.js";
export * from "./errors.js";
export { AGENT_DEFAULTS, type Agent, type AgentOptions, buildAgentGraph, createAgent } from "./graph/agent.js";
export { isRevertible, type RevertibleCheckpointer } from "./storage/checkpointer.js";
export type { ThreadHead } from "./storage/message-log/saver.js";
export { DATABASE_FILE, openSqliteCheckpointer, SqliteCheckpointer, type SqliteCheckpointerOptions } from "./storage/sqlite/checkpointer.js";
export { createChatModel } from "./graph/chat-model.js";
export { renderTemplate, resolveSystemPrompt } from "./graph/configuration.js";
export { type ConfiguredAgent, createAgentFromConfig } from "./composition/agent-from-config.js";
export { AgentState, type AgentStateUpdate, type AgentStateValue } from "./graph/state.js";
export { createTokenCounter, encodingForModel, type TokenCounter } from "./graph/token-counter.js";
export { selectWindow, type WindowSelection } from "./graph/trim-node.js";
export { DocumentIndex, type DocumentIndexOptions, type SearchResult } from "./retrieval/document-index.js";
export type { DocumentStore } from "./storage/document-store.js";
export { documentStoreBeside, openStorage } from "./storage/open-storage.js";
export type { Storage } from "./storage/storage.js";
export type { Chunk, Collection, SearchHit, StoredDocument } from "./storage/documents.js";
export { PostgresDocumentStore } from "./storage/postgres/document-store.js";
export { SqliteDocumentStore } from "./storage/sqlite/document-store.js";
export { RETRIEVAL_INSTRUCTIONS, createSearchDocumentsTool } from "./graph/search-documents-tool.js";
