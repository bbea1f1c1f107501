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

  it("lets LangGraph Studio's origin call it from a browser, and no other origin by default", async () => {
    const preflight = (origin: string) =>
      fetch(`${server.baseUrl}/threads/search`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-api-key" },
      });
    const studio = await preflight("https://smith.langchain.com");
    expect(studio.status).toBe(204);
    expect(studio.headers.get("access-control-allow-origin")).toBe("https://smith.langchain.com");
    expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
    const simple = await fetch(`${server.baseUrl}/ok`, { headers: { origin: "https://smith.langchain.com" } });
    expect(simple.headers.get("access-control-expose-headers")).toContain("Content-Location");
  });

  it("refuses runs at once, naming what to set, when no model is configured", async () => {
    const thread = (await server.request("/threads", { body: {} })).body as { thread_id: string };
    const response = await server.request(`/threads/${thread.thread_id}/runs/stream`, {
      body: { assistant_id: "agent", input: { messages: [{ role: "user", content: "hi" }] } },
    });
    expect(response.status).toBe(503);
    expect((response.body as { detail: string }).detail).toMatch(/OPENAI_API_KEY.*OPENAI_BASE_URL/);
    expect(await server.request(`/threads/${thread.thread_id}/runs`)).toMatchObject({ status: 200, body: [] });
  });

  it("answers malformed JSON with 400 and a detail", async () => {
    expect(await server.request("/threads", { raw: "{nope" })).toMatchObject({ status: 400, body: { detail: "Malformed JSON in request body" } });
  });
});
