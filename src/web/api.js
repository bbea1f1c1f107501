// @ts-check
/**
 * The web chat's client of our own LangGraph-compatible API: JSON calls with the API key, and
 * run streams read as server-sent events from a POST (EventSource can only GET).
 */

const KEY_STORAGE = "stateful-agent.api-key";

/** An answer of the API that is not a success; `detail` is the server's own explanation. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   */
  constructor(status, detail) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
  }
}

/** @returns {string | null} */
export const storedKey = () => localStorage.getItem(KEY_STORAGE);

/** @param {string | null} key */
export function storeKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/**
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
function headers(extra = {}) {
  const key = storedKey();
  return { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}), ...extra };
}

/**
 * The `detail` of an error answer, or a sentence made from its status.
 * @param {Response} response
 */
async function errorOf(response) {
  // A sentence, not a bare "502 Bad Gateway": a proxy in front of the server may answer without JSON.
  let detail = `The server answered HTTP ${response.status}${response.statusText ? ` (${response.statusText})` : ""}`;
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") detail = body.detail;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, detail);
}

/**
 * Calls the API and returns its JSON (undefined for an empty answer); throws ApiError.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, { method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, `The server cannot be reached (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!response.ok) throw await errorOf(response);
  const text = await response.text();
  return text === "" ? undefined : JSON.parse(text);
}

/**
 * @typedef {{ event: string, data: any }} StreamEvent
 */

/**
 * Starts a streamed run (POST with `body`) or joins one (GET without), and resolves once the
 * server has accepted it: a refusal (401, 404, 409 busy, 422, 503 no model) is thrown here as
 * ApiError. The events then arrive from the generator; failures during the run come as `error`.
 * @param {string} path
 * @param {unknown} body
 * @param {AbortSignal} signal aborting it ends the generator quietly
 * @returns {Promise<AsyncGenerator<StreamEvent>>}
 */
export async function openStream(path, body, signal) {
  let response;
  try {
    response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: headers({ accept: "text/event-stream" }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal.aborted) return (async function* () {})();
    throw new ApiError(0, `The server cannot be reached (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!response.ok || !response.body) throw await errorOf(response);
  return events(response.body, signal);
}

/**
 * @param {ReadableStream<Uint8Array>} body
 * @param {AbortSignal} signal
 * @returns {AsyncGenerator<StreamEvent>}
 */
async function* events(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replaceAll("\r\n", "\n");
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const parsed = parseFrame(frame);
        if (parsed) yield parsed;
      }
    }
  } catch (error) {
    // A Stop aborts the read on purpose; anything else is the connection failing mid-run.
    if (signal.aborted) return;
    throw new ApiError(0, `The connection to the server broke (${error instanceof Error ? error.message : String(error)})`);
  } finally {
    reader.releaseLock();
  }
}

/**
 * One SSE frame (`event:` and `data:` lines) as an event; comments and empty frames give null.
 * @param {string} frame
 * @returns {StreamEvent | null}
 */
export function parseFrame(frame) {
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length === 0) return null;
  return { event, data: JSON.parse(data.join("\n")) };
}
