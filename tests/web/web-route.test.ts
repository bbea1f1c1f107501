/** The server serves the web chat at `/`: offline (same-origin only), public, and cache-safe. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";

describe("web chat route", () => {
  let stub: OpenAiStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: { API_KEYS: "alice:alice-key-0123456789abc" } });
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });

  it("serves the page and its files without a key, and nothing from other origins", async () => {
    const page = await fetch(`${server.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/web/app.js">');
    // Offline: no absolute URLs to fetch from anywhere.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const policy = page.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("script-src 'self'");
    expect(policy).not.toContain("upgrade-insecure-requests");
    for (const file of ["app.js", "api.js", "branches.js", "markdown.js", "chat.css", "markdown.css"]) {
      const asset = await fetch(`${server.baseUrl}/web/${file}`);
      expect(asset.status, file).toBe(200);
      expect(asset.headers.get("cache-control")).toBe("no-cache");
      expect(await asset.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
  });

  it("serves the page's libraries from node_modules as JavaScript, and only those", async () => {
    for (const file of ["marked.js", "purify.js", "highlight/core.js", "highlight/languages/javascript.js", "highlight/languages/python.js"]) {
      const library = await fetch(`${server.baseUrl}/web/vendor/${file}`);
      expect(library.status, file).toBe(200);
      // Module scripts must be JavaScript (the server sends nosniff).
      expect(library.headers.get("content-type"), file).toBe("text/javascript; charset=utf-8");
      expect(library.headers.get("cache-control"), file).toBe("no-cache");
      expect(await library.text(), file).toMatch(/\bexport\b/);
    }
    for (const path of ["vendor/nope.js", "vendor/highlight/languages/nope.js", "vendor/highlight/languages/..%2F..%2Fpackage.json", "vendor/marked.d.ts"]) {
      const missing = await fetch(`${server.baseUrl}/web/${path}`);
      expect(missing.status, path).toBe(404);
      expect(await missing.json(), path).toHaveProperty("detail");
    }
  });

  it("answers a missing file with a JSON 404, and keeps the API behind the key", async () => {
    const missing = await fetch(`${server.baseUrl}/web/nope.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toHaveProperty("detail");
    expect((await fetch(`${server.baseUrl}/threads/search`, { method: "POST" })).status).toBe(401);
  });
});
