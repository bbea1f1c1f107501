import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { finished, spawnTs } from "../support/spawn.js";

let dataDir: string;
beforeEach(() => {
  dataDir = makeTempDir();
});
afterEach(() => removeDir(dataDir));

describe("src/main.ts", () => {
  it("starts without a model, says what to set, serves /ok and stops on SIGTERM", async () => {
    const child = spawnTs("src/main.ts", { PORT: "0", DATA_DIR: dataDir, LOG_LEVEL: "info" }, dataDir);
    const exit = finished(child);
    const lines: Record<string, unknown>[] = [];
    let buffered = "";
    const listening = new Promise<number>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const parts = buffered.split("\n");
        buffered = parts.pop() ?? "";
        for (const line of parts) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          lines.push(entry);
          if (typeof entry.port === "number") resolve(entry.port);
        }
      });
    });
    const port = await listening;
    expect(lines.some((line) => line.level === 40 && /OPENAI_API_KEY.*OPENAI_BASE_URL/.test(String(line.msg)))).toBe(true);
    expect(lines.some((line) => /API_KEYS is not set: authentication is off, so the server listens on 127\.0\.0\.1 only/.test(String(line.msg)))).toBe(true);

    const response = await fetch(`http://127.0.0.1:${port}/ok`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });

    child.kill("SIGTERM");
    const { code } = await exit;
    expect(code).toBe(0);
    expect(lines.some((line) => line.msg === "shutting down")).toBe(true);
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
