import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent } from "../../src/graph/agent.js";
import { createApp } from "../../src/server/create-app.js";

let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createApp({ agent: createAgent(), logger: pino({ level: "silent" }) }).listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe("createApp", () => {
  it("answers GET /ok", async () => {
    const response = await fetch(`${baseUrl}/ok`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("answers unknown routes with 404 and a detail", async () => {
    const response = await fetch(`${baseUrl}/nowhere`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ detail: "No route for GET /nowhere" });
  });

  it("answers malformed JSON with 400 and a detail", async () => {
    const response = await fetch(`${baseUrl}/ok`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ detail: "Malformed JSON in request body" });
  });
});
