/**
 * Whether the server may be sent traffic (`GET /ready`), apart from whether it lives (`GET /ok`).
 * It starts not ready, is ready once its storage is set up, and stops being ready for good when
 * shutting down begins, so that a load balancer sends its traffic elsewhere.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Where the server is in its life. */
export type ReadinessState = "starting" | "ready" | "stopping";

/** The server's readiness; shared by the listener that answers while it starts and the app. */
export class Readiness {
  #state: ReadinessState = "starting";

  get state(): ReadinessState {
    return this.#state;
  }

  get isReady(): boolean {
    return this.#state === "ready";
  }

  /** Why it is not ready, for `/ready`'s 503; undefined when it is. */
  get reason(): string | undefined {
    if (this.#state === "starting") return "The server is starting: its storage is being set up";
    if (this.#state === "stopping") return "The server is shutting down";
    return undefined;
  }

  /** Storage is set up: ready, unless shutting down has begun. */
  markReady(): void {
    if (this.#state === "starting") this.#state = "ready";
  }

  /** Shutting down has begun: not ready again. */
  markStopping(): void {
    this.#state = "stopping";
  }
}

/**
 * What answers requests while the app is not built yet: `/ok` (it lives) and, like every other
 * request, a 503 with `{"detail"}` saying why it is not ready.
 */
export function startingListener(readiness: Readiness): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const path = (request.url ?? "").split("?")[0];
    const [status, body] = path === "/ok" ? [200, { ok: true }] : [503, { detail: readiness.reason ?? "The server is starting" }];
    response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }).end(JSON.stringify(body));
  };
}
