/**
 * The server as LangGraph Studio's backend. Studio is a page on https://smith.langchain.com that
 * calls this server from the browser, so every call is cross-origin: CORS preflights, Chrome's
 * Private Network Access (a public https page calling 127.0.0.1).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestServer, startServer } from "../support/server.js";

const STUDIO = "https://smith.langchain.com";
const STUDIO_EU = "https://eu.smith.langchain.com";
/** The headers a browser asks to send for the SDK and Studio (Studio adds x-auth-scheme). */
const REQUESTED_HEADERS = "content-type,x-api-key,authorization,x-request-id,last-event-id,x-auth-scheme";
const API_KEY = "studio-key-0123456789abcdef";

/** A preflight as Chrome sends it for a public page calling a loopback address. */
const preflight = (baseUrl: string, path: string, origin: string, method = "POST", privateNetwork = true) =>
  fetch(`${baseUrl}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": REQUESTED_HEADERS,
      ...(privateNetwork ? { "access-control-request-private-network": "true" } : {}),
    },
  });

const lowerList = (value: string | null) => (value ?? "").split(",").map((item) => item.trim().toLowerCase());

describe("CORS and Private Network Access", () => {
  let server: TestServer;
  let keyed: TestServer;
  beforeAll(async () => {
    server = await startServer(undefined);
    keyed = await startServer(undefined, { env: { API_KEYS: `studio:${API_KEY}` } });
  });
  afterAll(async () => {
    await server.close();
    await keyed.close();
  });

  it("answers Studio's preflight with the origin, the private network, the headers and the methods", async () => {
    const response = await preflight(server.baseUrl, "/threads/search", STUDIO);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(STUDIO);
    expect(response.headers.get("access-control-allow-private-network")).toBe("true");
    expect(lowerList(response.headers.get("access-control-allow-headers"))).toEqual(expect.arrayContaining(REQUESTED_HEADERS.split(",")));
    expect(lowerList(response.headers.get("access-control-allow-methods"))).toEqual(expect.arrayContaining(["get", "post", "patch", "delete", "put"]));
    expect(Number(response.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    expect(response.headers.get("vary")).toMatch(/origin/i);
  });

  it("allows EU Studio by default, and adds the private network header only when asked", async () => {
    const eu = await preflight(server.baseUrl, "/threads/00000000-0000-4000-8000-000000000000", STUDIO_EU, "PATCH", false);
    expect(eu.status).toBe(204);
    expect(eu.headers.get("access-control-allow-origin")).toBe(STUDIO_EU);
    expect(eu.headers.get("access-control-allow-private-network")).toBeNull();
  });

  it("gives a disallowed origin no CORS or private network header at all", async () => {
    for (const origin of ["https://evil.example", "https://smith.langchain.com.evil.example", "http://smith.langchain.com"]) {
      const response = await preflight(server.baseUrl, "/threads/search", origin);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("access-control-allow-private-network")).toBeNull();
      expect(response.headers.get("access-control-allow-headers")).toBeNull();
      expect(response.headers.get("access-control-allow-methods")).toBeNull();
      const simple = await fetch(`${server.baseUrl}/info`, { headers: { origin } });
      expect(simple.status).toBe(200);
      expect(simple.headers.get("access-control-allow-origin")).toBeNull();
      expect(simple.headers.get("vary")).toMatch(/origin/i);
    }
  });

  it("answers preflights without a key when API keys are on, and lets the browser read the 401 that follows", async () => {
    const response = await preflight(keyed.baseUrl, "/assistants/search", STUDIO);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(STUDIO);
    expect(response.headers.get("access-control-allow-private-network")).toBe("true");
    const unauthenticated = await fetch(`${keyed.baseUrl}/assistants/search`, { method: "POST", headers: { origin: STUDIO, "content-type": "application/json" }, body: "{}" });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("access-control-allow-origin")).toBe(STUDIO);
    const authenticated = await fetch(`${keyed.baseUrl}/assistants/search`, { method: "POST", headers: { origin: STUDIO, "content-type": "application/json", "x-api-key": API_KEY }, body: "{}" });
    expect(authenticated.status).toBe(200);
    // A disallowed origin's preflight is not ours to answer: it meets authentication like any request.
    expect((await preflight(keyed.baseUrl, "/assistants/search", "https://evil.example")).status).toBe(401);
  });

  it("exposes the headers clients read on an actual request from Studio", async () => {
    const response = await fetch(`${server.baseUrl}/threads/search`, { method: "POST", headers: { origin: STUDIO, "content-type": "application/json" }, body: JSON.stringify({ limit: 1 }) });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(STUDIO);
    expect(lowerList(response.headers.get("access-control-expose-headers"))).toEqual(
      expect.arrayContaining(["content-location", "location", "x-pagination-next", "x-pagination-total", "x-request-id"]),
    );
    expect(response.headers.get("x-pagination-total")).not.toBeNull();
    expect(response.headers.get("x-request-id")).not.toBeNull();
  });

  it("allows any origin with CORS_ORIGINS=*, echoing it", async () => {
    const open = await startServer(undefined, { env: { CORS_ORIGINS: "*" } });
    try {
      const response = await preflight(open.baseUrl, "/ok", "http://localhost:5173", "GET");
      expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
      expect(response.headers.get("access-control-allow-private-network")).toBe("true");
    } finally {
      await open.close();
    }
  });
});
