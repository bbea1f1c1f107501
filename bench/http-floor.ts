/**
 * The HTTP floor of the real-path bench: the floor's agent (floor-agent.ts, all in memory) behind
 * a bare `node:http` server that answers the two requests the bench's client makes, as the API
 * does: `POST /threads` and `POST /threads/:thread_id/runs/wait` (the thread's values, in the
 * API's JSON). No routing library, validation, logging, persistence or run bookkeeping: what
 * LangGraph costs over HTTP at the least, against which the server's own layers are measured.
 * `http-floor.ts <modelBaseUrl>`; prints `{"port": ...}` once listening.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { toWireJson } from "../src/server/wire.js";
import { createFloorAgent } from "./floor-agent.js";

const { turn } = createFloorAgent(process.argv[2]!);
const WAIT = /^\/threads\/([^/]+)\/runs\/wait$/;

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    void (async () => {
      const answer = (status: number, body: string) => {
        response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
        response.end(body);
      };
      try {
        if (request.method === "POST" && request.url === "/threads") {
          const now = new Date().toISOString();
          return answer(200, JSON.stringify({ thread_id: randomUUID(), created_at: now, updated_at: now, metadata: {}, status: "idle", values: {} }));
        }
        const threadId = request.method === "POST" ? WAIT.exec(request.url ?? "")?.[1] : undefined;
        if (!threadId) return answer(404, JSON.stringify({ detail: "Not found" }));
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { input: { messages: Array<{ content: string }> } };
        const values = await turn(threadId, body.input.messages[0]!.content);
        answer(200, toWireJson(values as Record<string, unknown>));
      } catch (error) {
        answer(500, JSON.stringify({ detail: String(error) }));
      }
    })();
  });
});
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
