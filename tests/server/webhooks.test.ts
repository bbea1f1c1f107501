/**
 * Webhooks reach public addresses only (unless WEBHOOK_ALLOW_PRIVATE), checked when the run is
 * created and again when called, and never follow redirects. Only 127.0.0.1 is ever connected
 * to: other addresses are judged by the pure classification, or handed out by a stub resolver
 * to a check that does not connect.
 */
import { once } from "node:events";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ResolvedAddress, type Resolver, WebhookRefusedError, Webhooks, nonPublicKind } from "../../src/server/webhooks.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { until } from "../support/until.js";

/** A receiver on 127.0.0.1 recording what it is sent; `answer` decides the reply. */
async function startReceiver(answer: (response: import("node:http").ServerResponse) => void = (response) => response.end()) {
  const received: Array<{ url: string; body: unknown }> = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      received.push({ url: request.url ?? "", body: body === "" ? undefined : JSON.parse(body) });
      answer(response);
    });
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return { received, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A resolver that hands out `answers` in turn (the last one again once used up) and counts its calls. */
function scriptedResolver(...answers: ResolvedAddress[][]): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    return answers[Math.min(calls.length - 1, answers.length - 1)] as ResolvedAddress[];
  };
  return Object.assign(resolve, { calls });
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });

describe("which addresses a webhook may reach", () => {
  it("accepts public IPv4 and IPv6 addresses, and IPv6 forms that carry a public IPv4 address", () => {
    for (const address of ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]) {
      expect(nonPublicKind(address), address).toBeUndefined();
    }
  });

  it("refuses loopback, private, link-local, unspecified, CGNAT, multicast and reserved addresses in every form", () => {
    const refused: Array<[string, string]> = [
      ["127.0.0.1", "loopback"],
      ["127.255.255.254", "loopback"],
      ["::1", "loopback"],
      ["::ffff:127.0.0.1", "loopback"],
      ["::ffff:7f00:1", "loopback"],
      ["0:0:0:0:0:ffff:7f00:1", "loopback"],
      ["64:ff9b::7f00:1", "loopback"],
      ["2002:7f00:1::", "loopback"],
      ["0.0.0.0", "unspecified"],
      ["::", "unspecified"],
      ["10.0.0.1", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.168.1.1", "private"],
      ["::ffff:192.168.1.1", "private"],
      ["fc00::1", "private"],
      ["fd12:3456::1", "private"],
      ["169.254.169.254", "link-local"],
      ["::ffff:169.254.169.254", "link-local"],
      ["64:ff9b::a9fe:a9fe", "link-local"],
      ["fe80::1", "link-local"],
      ["fe80::1%eth0", "link-local"],
      ["100.64.0.1", "carrier-grade NAT"],
      ["224.0.0.1", "multicast"],
      ["ff02::1", "multicast"],
      ["255.255.255.255", "reserved"],
      ["240.0.0.1", "reserved"],
      ["198.18.0.1", "reserved"],
      ["::127.0.0.1", "reserved"],
      ["::ffff:0:7f00:1", "IPv4-translated"],
      ["2001::1", "reserved"],
      ["2001:db8::1", "documentation"],
      ["192.0.2.1", "documentation"],
      ["not-an-address", "not an IP address"],
    ];
    for (const [address, kind] of refused) expect(nonPublicKind(address), address).toContain(kind);
  });

  it("reads every spelling of an address in a URL as the address it is, without asking DNS", async () => {
    const resolve = scriptedResolver([v4("8.8.8.8")]);
    const webhooks = new Webhooks({ resolve });
    for (const url of ["http://127.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/", "http://127.1/", "http://[::1]:8080/", "http://[0:0:0:0:0:ffff:7f00:1]/"]) {
      await expect(webhooks.check(url), url).rejects.toThrow(/not a public address \(loopback\)/);
    }
    await expect(webhooks.check("https://169.254.169.254/latest/meta-data/")).rejects.toThrow(/link-local/);
    await expect(webhooks.check("http://[::ffff:a9fe:a9fe]/")).rejects.toThrow(/link-local/);
    await expect(webhooks.check("http://10.1.2.3/")).rejects.toThrow(/private/);
    expect(resolve.calls).toEqual([]);
  });

  it("refuses a name when any address it resolves to is not public, and says so as a 422", async () => {
    const mixed = new Webhooks({ resolve: scriptedResolver([v4("8.8.8.8"), v4("10.0.0.7")]) });
    const refusal = await mixed.check("https://hooks.example.com/run").catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(WebhookRefusedError);
    expect((refusal as WebhookRefusedError).status).toBe(422);
    expect((refusal as Error).message).toMatch(/^webhook: hooks\.example\.com \(10\.0\.0\.7\) is not a public address \(private\).*WEBHOOK_ALLOW_PRIVATE/);
    await expect(new Webhooks({ resolve: scriptedResolver([]) }).check("https://hooks.example.com/")).rejects.toThrow(/resolves to no address/);
    await expect(new Webhooks({ resolve: () => Promise.reject(new Error("ENOTFOUND")) }).check("https://nowhere.invalid/")).rejects.toThrow(/cannot be resolved/);
    // Public only: accepted (checked, not called).
    await expect(new Webhooks({ resolve: scriptedResolver([v4("8.8.8.8")]) }).check("https://hooks.example.com/")).resolves.toBeUndefined();
    // The operator's setting allows anything, without resolving.
    await expect(new Webhooks({ allowPrivate: true, resolve: () => Promise.reject(new Error("not asked")) }).check("http://10.0.0.1/")).resolves.toBeUndefined();
  });

  it("checks again when it calls, and connects to nothing when the name now resolves to a private address", async () => {
    const receiver = await startReceiver();
    try {
      // Public when checked, loopback when called: a DNS rebinding.
      const resolve = scriptedResolver([v4("8.8.8.8")], [v4("127.0.0.1")]);
      const webhooks = new Webhooks({ resolve });
      const url = `http://localhost:${receiver.port}/hook`;
      await webhooks.check(url);
      await expect(webhooks.post(url, { run_id: "x" })).rejects.toThrow(/localhost \(127\.0\.0\.1\) is not a public address \(loopback\)/);
      expect(resolve.calls).toEqual(["localhost", "localhost"]);
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});

describe.each(await testBackends())("webhooks of runs (%s)", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer | undefined;
  beforeAll(async () => {
    stub = await startOpenAiStub();
  });
  afterAll(() => stub.close());
  afterEach(async () => {
    await server?.close();
    server = undefined;
    stub.reset();
  });

  const run = (webhook: string, extra: Record<string, unknown> = {}) => ({ assistant_id: "agent", input: { messages: [{ role: "user", content: "hi" }] }, webhook, ...extra });

  it("refuses a webhook to this machine at creation with a 422 naming the field, creating nothing", async () => {
    const receiver = await startReceiver();
    server = await startServer(stub, { backend });
    try {
      const thread = await server.client.threads.create();
      const before = await server.client.threads.count();
      const port = receiver.port;
      const targets = [
        `http://127.0.0.1:${port}/hook`,
        `http://[::ffff:127.0.0.1]:${port}/hook`,
        `http://0x7f000001:${port}/hook`,
        `http://2130706433:${port}/hook`,
        `http://0177.0.0.1:${port}/hook`,
        `http://127.1:${port}/hook`,
        `http://[::1]:${port}/hook`,
        `http://localhost:${port}/hook`,
      ];
      for (const webhook of targets) {
        for (const path of [`/threads/${thread.thread_id}/runs`, `/threads/${thread.thread_id}/runs/wait`, "/runs", "/runs/stream"]) {
          const response = await server.request(path, { body: run(webhook) });
          expect(response.status, `${path} ${webhook}`).toBe(422);
          expect((response.body as { detail: string }).detail).toMatch(/^webhook: .*is not a public address \(loopback\)/);
        }
        // A batch with one refused webhook creates none of its runs.
        const batch = await server.request("/runs/batch", { body: [{ assistant_id: "agent", input: { messages: [{ role: "user", content: "fine" }] }, on_completion: "keep" }, run(webhook)] });
        expect(batch.status).toBe(422);
      }
      expect(await server.client.runs.list(thread.thread_id)).toEqual([]);
      expect(await server.client.threads.count()).toBe(before);
      expect(stub.requests).toHaveLength(0);
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it("does not follow a redirect (with private targets allowed)", async () => {
    const second = await startReceiver();
    const first = await startReceiver((response) => response.writeHead(307, { location: `http://127.0.0.1:${second.port}/elsewhere` }).end());
    server = await startServer(stub, { backend, env: { WEBHOOK_ALLOW_PRIVATE: "true" }, captureLogs: true });
    try {
      const thread = await server.client.threads.create();
      const created = await server.request(`/threads/${thread.thread_id}/runs/wait`, { body: run(`http://127.0.0.1:${first.port}/hook`) });
      expect(created.status).toBe(200);
      await until(() => second.received.length > 0 || server!.logs.some((line) => line.includes("webhook answered with a redirect")));
      expect(first.received).toHaveLength(1);
      expect(first.received[0]!.body).toMatchObject({ thread_id: thread.thread_id, status: "success" });
      expect(second.received).toEqual([]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("checks the target again when the run ends, and calls nothing that now resolves to this machine", async () => {
    const receiver = await startReceiver();
    // Public when the run is created, loopback when its webhook is called.
    const resolve = scriptedResolver([v4("8.8.8.8")], [v4("127.0.0.1")]);
    server = await startServer(stub, { backend, resolve, captureLogs: true });
    try {
      const thread = await server.client.threads.create();
      const created = await server.request(`/threads/${thread.thread_id}/runs/wait`, { body: run(`http://localhost:${receiver.port}/hook`) });
      expect(created.status).toBe(200);
      await until(() => server!.logs.some((line) => line.includes("webhook call failed")));
      const failure = server.logs.find((line) => line.includes("webhook call failed"))!;
      expect(failure).toMatch(/localhost \(127\.0\.0\.1\) is not a public address \(loopback\)/);
      expect(resolve.calls).toEqual(["localhost", "localhost"]);
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});
