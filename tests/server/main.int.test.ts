import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { startServerProcess } from "../support/server-process.js";
import { PROCESS_TEST_TIMEOUTS, finished, killStartedProcesses, spawnTs } from "../support/spawn.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

let dataDir: string;
beforeEach(() => {
  dataDir = makeTempDir();
});
afterEach(async () => {
  await killStartedProcesses("test");
  removeDir(dataDir);
});

describe("src/main.ts", () => {
  it("starts without a model, says what to set, serves /ok and stops on SIGTERM", async () => {
    const server = await startServerProcess({ DATA_DIR: dataDir }, dataDir);
    expect(server.logs.some((line) => line.level === 40 && /OPENAI_API_KEY.*OPENAI_BASE_URL/.test(String(line.msg)))).toBe(true);
    expect(server.logs.some((line) => /API_KEYS is not set: authentication is off, so the server listens on 127\.0\.0\.1 only/.test(String(line.msg)))).toBe(true);

    const response = await fetch(`${server.baseUrl}/ok`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    // Its output is a pipe here, not a terminal: each request is one JSON line (and /ok none).
    const search = await fetch(`${server.baseUrl}/threads/search`, { method: "POST", headers: { "content-type": "application/json", "x-request-id": "trace-main" }, body: "{}" });
    expect(search.status).toBe(200);
    expect(await server.waitForLog((line) => line.reqId === "trace-main")).toMatchObject({ level: 30, method: "POST", path: "/threads/search", status: 200, msg: "request completed" });
    expect(server.logs.some((line) => line.path === "/ok")).toBe(false);

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(server.logs.some((line) => line.msg === "shutting down")).toBe(true);
  });

  it("says clearly when the database cannot be reached, without the password", async () => {
    const child = spawnTs("src/main.ts", { PORT: "0", DATA_DIR: dataDir, DATABASE_URL: "postgres://agent:s3cret-password@127.0.0.1:1/nowhere" }, dataDir);
    const { code, stdout } = await finished(child);
    expect(code).toBe(1);
    expect(stdout).toMatch(/Cannot open PostgreSQL at 127\.0\.0\.1:1\/nowhere \(DATABASE_URL\)/);
    expect(stdout).not.toContain("s3cret-password");
  });

  it("refuses to start on an invalid variable and names it", async () => {
    const child = spawnTs("src/main.ts", { PORT: "eighty", DATA_DIR: dataDir }, dataDir);
    const { code, stderr } = await finished(child);
    expect(code).toBe(1);
    expect(stderr).toMatch(/Invalid configuration: PORT/);
  });
});
