/**
 * The commands of the agent streaming protocol (`POST /threads/{id}/commands`, or frames on the
 * WebSocket): each answers `{type: "success", id, result, meta}` or `{type: "error", id, error,
 * message}` with one of the protocol's error codes. Runs go through the same machinery as
 * `/runs`: admission, multitask strategies, owners, several instances.
 *
 * Errors of the HTTP API that the protocol has no code for (an unknown assistant, a busy thread
 * under `reject`, a thread of another owner) stay HTTP errors (404, 409) on `/commands`, as on
 * the official server; the WebSocket turns them into error frames (see `errorFrame`).
 */
import { z } from "zod";
import { AppError, NotFoundError, ValidationError } from "../../errors.js";
import type { AppDeps } from "../app-deps.js";
import type { Logger } from "../../logger.js";
import { requireThread } from "../runs/lookup.js";
import { type ProtocolCommand, RunCreate, parseInput } from "../schemas.js";
import { toWire } from "../wire.js";
import { type AgentStatus, type ThreadEvent, toProtocolState } from "./thread-event.js";

export type { ProtocolCommand } from "../schemas.js";

/** The protocol's error codes (`ErrorCode` in `@langchain/protocol`). */
export type ProtocolErrorCode =
  | "invalid_argument"
  | "unknown_command"
  | "unknown_error"
  | "no_such_run"
  | "no_such_subscription"
  | "no_such_namespace"
  | "no_such_interrupt"
  | "no_such_checkpoint"
  | "permission_denied"
  | "not_supported";

export interface ResponseMeta {
  thread_id: string;
  /** The number of the thread's last event when the command was applied. */
  applied_through_seq: number;
}

export type ProtocolResponse =
  | { type: "success"; id: number; result: Record<string, unknown>; meta?: ResponseMeta }
  | { type: "error"; id: number | null; error: ProtocolErrorCode; message: string; meta?: ResponseMeta };

/** A command refused with one of the protocol's codes. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** What commands need of the app. */
export type CommandDeps = Pick<AppDeps, "runs" | "storage" | "agent" | "logger">;

const Namespace = z.array(z.string());
const Config = z.record(z.string(), z.unknown());

const RunStartParams = z.object({
  assistant_id: z.string().min(1),
  input: z.unknown().optional(),
  config: Config.optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  multitaskStrategy: z.enum(["reject", "enqueue", "interrupt", "rollback"]).optional(),
  multitask_strategy: z.enum(["reject", "enqueue", "interrupt", "rollback"]).optional(),
});

const InputRespondEntry = z.object({ namespace: Namespace.optional(), interrupt_id: z.string().min(1), response: z.unknown() });
const InputRespondParams = z.object({
  namespace: Namespace.optional(),
  interrupt_id: z.string().min(1).optional(),
  response: z.unknown().optional(),
  responses: z.array(InputRespondEntry).min(1).optional(),
  update: z.union([z.record(z.string(), z.unknown()), z.array(z.tuple([z.string(), z.unknown()]))]).optional(),
  goto: z.unknown().optional(),
  config: Config.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

const StateGetParams = z.object({ namespace: Namespace.optional(), keys: z.array(z.string()).optional() });
const ListCheckpointsParams = z.object({ namespace: Namespace.optional(), limit: z.number().int().min(1).max(1000).optional(), before: z.string().min(1).optional() });
const StateForkParams = z.object({ checkpoint_id: z.string().min(1), input: z.unknown().optional(), config: Config.optional() });
const AgentGetTreeParams = z.object({ run_id: z.string().min(1).optional() });

/** Parses a command's params, or refuses it with `invalid_argument` naming what is wrong. */
export function paramsOf<T extends z.ZodType>(schema: T, command: ProtocolCommand): z.infer<T> {
  const parsed = schema.safeParse(command.params ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "params"}: ${issue.message}`);
  throw new ProtocolError("invalid_argument", `Invalid params for ${command.method}: ${problems.join("; ")}`);
}

/** Only the root namespace holds state in this agent (it has no subgraphs). */
function assertRoot(namespace: string[] | undefined): void {
  if (namespace && namespace.length > 0) throw new ProtocolError("no_such_namespace", `No namespace ${JSON.stringify(namespace)} on this thread: the agent has no subgraphs`);
}

/** A node of `agent.getTree`. */
interface TreeNode {
  namespace: string[];
  status: AgentStatus;
  graph_name: string;
  children?: TreeNode[];
}

/** The agent tree a run's lifecycle events describe. */
export function treeOf(events: ThreadEvent[], rootGraph: string): TreeNode {
  const nodes = new Map<string, TreeNode>();
  const key = (namespace: string[]) => JSON.stringify(namespace);
  nodes.set(key([]), { namespace: [], status: "started", graph_name: rootGraph });
  for (const event of events) {
    if (event.method !== "lifecycle") continue;
    const data = event.params.data as { event?: AgentStatus; graph_name?: string };
    const namespace = event.params.namespace;
    const known = nodes.get(key(namespace));
    const segment = namespace.at(-1);
    nodes.set(key(namespace), {
      namespace,
      status: data.event ?? known?.status ?? "started",
      graph_name: data.graph_name ?? known?.graph_name ?? segment?.split(":")[0] ?? rootGraph,
    });
  }
  const build = (node: TreeNode): TreeNode => {
    const children = [...nodes.values()]
      .filter((child) => child.namespace.length === node.namespace.length + 1 && node.namespace.every((segment, index) => child.namespace[index] === segment))
      .sort((a, b) => key(a.namespace).localeCompare(key(b.namespace)))
      .map(build);
    return { ...node, ...(children.length > 0 ? { children } : {}) };
  };
  return build(nodes.get(key([])) as TreeNode);
}

/** Runs protocol commands on threads (see the module comment). */
export class ProtocolCommands {
  constructor(private readonly deps: CommandDeps) {}

  /**
   * Answers one command on `threadId` for `owner`. Protocol errors come back as error responses;
   * errors of the HTTP API (AppError other than a validation error) are thrown. Unexpected
   * failures are logged to `logger` (the request's, when there is one).
   */
  async handle(threadId: string, command: ProtocolCommand, owner: string | undefined, logger: Logger = this.deps.logger): Promise<ProtocolResponse> {
    try {
      const result = await this.#dispatch(threadId, command, owner);
      return { type: "success", id: command.id, result, meta: await this.meta(threadId) };
    } catch (error) {
      if (error instanceof ProtocolError) return { type: "error", id: command.id, error: error.code, message: error.message, meta: await this.meta(threadId).catch(() => undefined) };
      // A request the run machinery found invalid (a bad message, a setting out of range).
      if (error instanceof ValidationError) return { type: "error", id: command.id, error: "invalid_argument", message: error.message };
      if (error instanceof AppError) throw error;
      logger.error({ err: error, threadId, method: command.method }, "protocol command failed");
      return { type: "error", id: command.id, error: "unknown_error", message: error instanceof Error ? error.message : "The command failed" };
    }
  }

  /** `meta` of a response: the thread and how far its events are. */
  async meta(threadId: string): Promise<ResponseMeta> {
    return { thread_id: threadId, applied_through_seq: await this.deps.runs.feed.lastSeq(threadId) };
  }

  async #dispatch(threadId: string, command: ProtocolCommand, owner: string | undefined): Promise<Record<string, unknown>> {
    switch (command.method) {
      case "run.start":
        return this.#runStart(threadId, command, owner);
      case "input.respond":
        return this.#inputRespond(threadId, command, owner);
      case "input.inject":
        throw new ProtocolError("not_supported", "input.inject is not supported: this agent takes input between runs; send it with run.start, which queues it behind a running run");
      case "state.get":
        return this.#stateGet(threadId, command, owner);
      case "state.listCheckpoints":
        return this.#listCheckpoints(threadId, command, owner);
      case "state.fork":
        return this.#fork(threadId, command, owner);
      case "agent.getTree":
        return this.#getTree(threadId, command, owner);
      case "subscription.subscribe":
      case "subscription.reconnect":
        throw new ProtocolError("not_supported", `${command.method} is for the WebSocket (GET /threads/${threadId}/stream/events); over HTTP each event stream is its own subscription: POST /threads/${threadId}/stream/events`);
      case "subscription.unsubscribe":
        throw new ProtocolError("no_such_subscription", "No subscription is held over HTTP: an event stream ends its subscription by closing");
      default:
        throw new ProtocolError("unknown_command", `Unknown command ${JSON.stringify(command.method)}`);
    }
  }

  /** Starts a run from a request, as `/runs` does; the thread is created with the client's id when it does not exist. */
  async #start(threadId: string, body: Record<string, unknown>, owner: string | undefined) {
    const request = parseInput(RunCreate, { if_not_exists: "create", multitask_strategy: "enqueue", ...body }, "params");
    const plan = await this.deps.runs.check(threadId, request, owner);
    return this.deps.runs.start({ ...plan, protocol: true });
  }

  /** The ids of the interrupts the thread waits on, at its root. */
  async #pendingInterrupts(threadId: string): Promise<string[]> {
    const state = await this.deps.agent.getState({ configurable: { thread_id: threadId } });
    return state.tasks.flatMap((task) => (task.interrupts ?? []).flatMap((entry) => (typeof entry.id === "string" ? [entry.id] : [])));
  }

  /** Refuses a config that names another thread: a run of this thread's commands stays on it. */
  #assertOwnThread(threadId: string, config: Record<string, unknown> | undefined): void {
    const configurable = config?.configurable as Record<string, unknown> | undefined;
    const named = configurable?.thread_id;
    if (named !== undefined && named !== threadId) throw new ProtocolError("permission_denied", `config.configurable.thread_id names thread ${String(named)}; commands on thread ${threadId} run only on it`);
  }

  async #runStart(threadId: string, command: ProtocolCommand, owner: string | undefined) {
    const params = paramsOf(RunStartParams, command);
    this.#assertOwnThread(threadId, params.config);
    const thread = await this.deps.storage.threads.getThread(threadId, owner);
    const configurable = params.config?.configurable as Record<string, unknown> | undefined;
    const checkpointId = typeof configurable?.checkpoint_id === "string" ? configurable.checkpoint_id : undefined;
    // On a thread waiting on an interrupt, the input answers it (the protocol's run.start). Only
    // a thread whose last run paused (or one still busy: its run may have paused a moment ago,
    // its status not written yet) can be waiting; an idle thread's state is not read for nothing.
    const mayWait = thread?.status === "interrupted" || thread?.status === "busy";
    const resume = mayWait && params.input != null && !checkpointId && (await this.#pendingInterrupts(threadId)).length > 0;
    const handle = await this.#start(
      threadId,
      {
        assistant_id: params.assistant_id,
        ...(resume ? { command: { resume: params.input } } : { input: params.input ?? null }),
        config: params.config,
        context: params.context,
        metadata: params.metadata,
        ...(checkpointId ? { checkpoint_id: checkpointId } : {}),
        multitask_strategy: params.multitaskStrategy ?? params.multitask_strategy ?? "enqueue",
      },
      owner,
    );
    return { run_id: handle.run.runId };
  }

  async #inputRespond(threadId: string, command: ProtocolCommand, owner: string | undefined) {
    const params = paramsOf(InputRespondParams, command);
    this.#assertOwnThread(threadId, params.config);
    const answers = params.responses ?? (params.interrupt_id === undefined ? [] : [{ namespace: params.namespace, interrupt_id: params.interrupt_id, response: params.response }]);
    if (answers.length === 0) throw new ProtocolError("invalid_argument", "input.respond needs interrupt_id and response, or responses");
    for (const answer of answers) assertRoot(answer.namespace);
    const thread = await requireThread(this.deps.storage, threadId, owner);
    const pending = await this.#pendingInterrupts(threadId);
    if (pending.length === 0) throw new ProtocolError("no_such_run", `No run on thread ${threadId} waits for input`);
    const unknown = answers.find((answer) => !pending.includes(answer.interrupt_id));
    if (unknown) throw new ProtocolError("no_such_interrupt", `Thread ${threadId} does not wait on interrupt ${unknown.interrupt_id} (it waits on ${pending.join(", ")})`);
    const assistantId = typeof thread.metadata.assistant_id === "string" ? thread.metadata.assistant_id : "agent";
    const handle = await this.#start(
      threadId,
      {
        assistant_id: assistantId,
        command: { resume: Object.fromEntries(answers.map((answer) => [answer.interrupt_id, answer.response])), ...(params.update ? { update: params.update } : {}), ...(params.goto === undefined ? {} : { goto: params.goto }) },
        config: params.config,
        metadata: params.metadata,
      },
      owner,
    );
    return { run_id: handle.run.runId };
  }

  async #stateGet(threadId: string, command: ProtocolCommand, owner: string | undefined) {
    const params = paramsOf(StateGetParams, command);
    assertRoot(params.namespace);
    await requireThread(this.deps.storage, threadId, owner);
    const state = await this.deps.agent.getState({ configurable: { thread_id: threadId } });
    const values = toProtocolState(state.values) as Record<string, unknown>;
    const keys = params.keys;
    const checkpointId = state.config?.configurable?.checkpoint_id as string | undefined;
    return {
      values: keys ? Object.fromEntries(Object.entries(values).filter(([key]) => keys.includes(key))) : values,
      ...(checkpointId ? { checkpoint: { id: checkpointId, ns: "" } } : {}),
    };
  }

  async #listCheckpoints(threadId: string, command: ProtocolCommand, owner: string | undefined) {
    const params = paramsOf(ListCheckpointsParams, command);
    assertRoot(params.namespace);
    await requireThread(this.deps.storage, threadId, owner);
    const config = { configurable: { thread_id: threadId } };
    const before = params.before ? { configurable: { thread_id: threadId, checkpoint_ns: "", checkpoint_id: params.before } } : undefined;
    if (before && !(await this.deps.storage.checkpointer.getTuple(before))) throw new ProtocolError("no_such_checkpoint", `No checkpoint ${params.before} on thread ${threadId}`);
    const checkpoints = [];
    for await (const snapshot of this.deps.agent.getStateHistory(config, { limit: params.limit ?? 10, ...(before ? { before } : {}) })) {
      const metadata = (toWire(snapshot.metadata) ?? {}) as Record<string, unknown>;
      const writes = metadata.writes as Record<string, unknown> | null | undefined;
      const node = writes ? Object.keys(writes)[0] : undefined;
      checkpoints.push({
        id: snapshot.config.configurable?.checkpoint_id as string,
        timestamp: snapshot.createdAt ?? "",
        step: typeof metadata.step === "number" ? metadata.step : -1,
        ...(node ? { node_name: node } : {}),
        metadata,
      });
    }
    return { checkpoints };
  }

  async #fork(threadId: string, command: ProtocolCommand, owner: string | undefined) {
    const params = paramsOf(StateForkParams, command);
    this.#assertOwnThread(threadId, params.config);
    const thread = await requireThread(this.deps.storage, threadId, owner);
    const checkpoint = { configurable: { thread_id: threadId, checkpoint_ns: "", checkpoint_id: params.checkpoint_id } };
    if (!(await this.deps.storage.checkpointer.getTuple(checkpoint))) throw new ProtocolError("no_such_checkpoint", `No checkpoint ${params.checkpoint_id} on thread ${threadId}`);
    const assistantId = typeof thread.metadata.assistant_id === "string" ? thread.metadata.assistant_id : "agent";
    const handle = await this.#start(threadId, { assistant_id: assistantId, input: params.input ?? null, config: params.config, checkpoint_id: params.checkpoint_id }, owner);
    return { run_id: handle.run.runId, thread_id: threadId };
  }

  async #getTree(threadId: string, command: ProtocolCommand, owner: string | undefined) {
    const params = paramsOf(AgentGetTreeParams, command);
    const thread = await requireThread(this.deps.storage, threadId, owner);
    const graphName = typeof thread.metadata.graph_id === "string" ? thread.metadata.graph_id : "agent";
    if (params.run_id && !(await this.deps.storage.runs.getRun(threadId, params.run_id)) && !this.deps.runs.handle(params.run_id)) {
      throw new ProtocolError("no_such_run", `No run ${params.run_id} on thread ${threadId}`);
    }
    const { events } = await this.deps.runs.feed.runEvents(threadId, params.run_id);
    return { tree: treeOf(events, graphName) };
  }
}

/**
 * The error frame the WebSocket sends for an error of the HTTP API, which `/commands` answers
 * with its status: the protocol code closest to it, and the same message.
 */
export function errorFrame(id: number | null, error: unknown): ProtocolResponse {
  if (error instanceof ProtocolError) return { type: "error", id, error: error.code, message: error.message };
  if (error instanceof AppError) {
    const code: ProtocolErrorCode = error.status === 401 || error.status === 403 ? "permission_denied" : error.status === 404 && !(error instanceof NotFoundError) ? "no_such_run" : error.status < 500 ? "invalid_argument" : "unknown_error";
    return { type: "error", id, error: code, message: error.message };
  }
  return { type: "error", id, error: "unknown_error", message: error instanceof Error ? error.message : "The command failed" };
}
