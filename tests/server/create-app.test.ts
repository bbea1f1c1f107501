import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestServer, startServer } from "../support/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer(undefined);
});
afterAll(() => server.close());

describe("createApp", () => {
  it("answers GET /ok", async () => {
    expect(await server.request("/ok")).toMatchObject({ status: 200, body: { ok: true } });
  });

  it("answers unknown routes with 404 and a detail", async () => {
    expect(await server.request("/nowhere")).toMatchObject({ status: 404, body: { detail: "No route for GET /nowhere" } });
  });

  it("answers malformed JSON with 400 and a detail", async () => {
    expect(await server.request("/threads", { raw: "{nope" })).toMatchObject({ status: 400, body: { detail: "Malformed JSON in request body" } });
  });
});
