/**
 * Answers from the user's documents, end to end: collections and uploads over HTTP, the stub's
 * embeddings endpoint, and a stub model taught to call `search_documents` and to answer from the
 * passages it gets back, citing them. On SQLite and PostgreSQL.
 */
import { HumanMessage } from "@langchain/core/messages";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAgentFromConfig } from "../../src/composition/agent-from-config.js";
import { makeConfig, makeTempDir, removeDir } from "../support/fixtures.js";
import { RETRIEVAL_INSTRUCTIONS } from "../../src/graph/search-documents-tool.js";
import { type ChatRequest, type OpenAiStub, type Responder, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { type Backend, type TestServer, startServer, testBackends } from "../support/server.js";

const DOCUMENTS = [
  {
    source: "refund-policy.md",
    content: "# Refunds\n\nCustomers may return any item within 30 days of delivery for a full refund. Refunds are paid to the original card within five business days.",
  },
  { source: "shipping.txt", content: "Orders ship from our warehouse in Lyon within two business days. Express delivery costs 12 euros." },
  { source: "security.md", content: "# Security\n\nPasswords are stored as salted hashes. Report vulnerabilities to the security team by e-mail." },
];

/**
 * The model: with the tool offered and no result yet, it searches for the user's question; given
 * a result, it answers with the sentence that holds a number, citing the passage it came from.
 */
const retrievalResponder: Responder = (request: ChatRequest) => {
  const last = request.messages.at(-1)!;
  if (last.role === "tool") {
    const passages = wireText(last).split(/\n\n(?=\[\d+\] )/);
    const cited = passages.find((passage) => /\d+ days/.test(passage));
    if (!cited) return "The documents do not say.";
    const number = /^\[(\d+)\]/.exec(cited)![1];
    const sentence = /[^.\n]*\d+ days[^.]*\./.exec(cited)![0].trim();
    return `${sentence} [${number}]`;
  }
  const tools = (request.tools as Array<{ function: { name: string } }> | undefined) ?? [];
  if (tools.some((tool) => tool.function.name === "search_documents")) {
    return { tool_calls: [{ name: "search_documents", arguments: { query: wireText(last) } }] };
  }
  return `You said: ${wireText(last)}`;
};

const backends = await testBackends();

describe.each(backends)("documents and retrieval (%s)", (backend: Backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
  });
  afterAll(() => stub.close());
  beforeEach(async () => {
    stub.reset();
    stub.respondWith(retrievalResponder);
    server = await startServer(stub, { backend, env: { EMBEDDING_MODEL: "stub-embedding", CHUNK_SIZE: "100", CHUNK_OVERLAP: "10", DOCUMENT_MAX_BYTES: "20000" } });
  });
  afterEach(() => server.close());

  /** A collection holding DOCUMENTS; returns its id and the documents' ids by source. */
  async function handbook() {
    const created = await server.request("/collections", { body: { name: "Handbook", metadata: { team: "support" } } });
    expect(created.status).toBe(201);
    const collectionId = (created.body as { collection_id: string }).collection_id;
    const ids: Record<string, string> = {};
    for (const document of DOCUMENTS) {
      const added = await server.request(`/collections/${collectionId}/documents`, { body: document });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
      ids[document.source] = (added.body as { document_id: string }).document_id;
    }
    return { collectionId, ids };
  }

  const search = async (collectionId: string, query: string, k = 3) =>
    (await server.request(`/collections/${collectionId}/search`, { body: { query, k } })).body as {
      methods: string[];
      results: Array<{ source: string; text: string; score: number; position: number; ranks: { text?: number; vector?: number } }>;
    };

  it("stores documents as chunks with their sources, and finds the right one by text and by vectors", async () => {
    const { collectionId, ids } = await handbook();
    const collection = (await server.request(`/collections/${collectionId}`)).body as { name: string; document_count: number; chunk_count: number; metadata: unknown };
    expect(collection).toMatchObject({ name: "Handbook", document_count: 3, metadata: { team: "support" } });
    expect(collection.chunk_count).toBeGreaterThanOrEqual(3);
    const listed = (await server.request(`/collections/${collectionId}/documents`)).body as Array<{ source: string; content_type: string }>;
    expect(listed.map((document) => `${document.source} ${document.content_type}`).sort()).toEqual([
      "refund-policy.md text/markdown",
      "security.md text/markdown",
      "shipping.txt text/plain",
    ]);
    const document = (await server.request(`/collections/${collectionId}/documents/${ids["refund-policy.md"]}`)).body as { chunk_count: number; characters: number };
    expect(document.characters).toBe(DOCUMENTS[0]!.content.length);
    expect(document.chunk_count).toBeGreaterThan(1);

    const found = await search(collectionId, "How many days do I have to return an item for a refund?");
    expect(found.methods).toEqual(["text", "vector"]);
    expect(found.results[0]).toMatchObject({ source: "refund-policy.md" });
    expect(found.results[0]!.text).toContain("30 days");
    expect(found.results[0]!.ranks).toMatchObject({ text: 1 });
    expect(found.results.map((result) => result.score)).toEqual([...found.results.map((result) => result.score)].sort((a, b) => b - a));
    // The chunks were embedded through the provider's /v1/embeddings, and so was the query.
    expect(stub.embeddingRequests.length).toBeGreaterThanOrEqual(4);
    expect(stub.embeddingRequests.every((request) => request.model === "stub-embedding")).toBe(true);
  });

  it("answers from the one document that holds the answer: tool call, passage and citation", async () => {
    const { collectionId } = await handbook();
    const thread = await server.client.threads.create({ metadata: { collection_id: collectionId } });
    const events: Array<{ event: string; data: unknown }> = [];
    for await (const part of server.client.runs.stream(thread.thread_id, "agent", {
      input: { messages: [{ role: "user", content: "How many days do I have to return an item?" }] },
      streamMode: ["messages-tuple", "updates"],
    })) events.push(part as { event: string; data: unknown });

    // The stream shows the tool call as it is made and the tool's result as an update.
    const toolCallChunks = events.filter((part) => part.event === "messages").flatMap((part) => ((part.data as [{ tool_call_chunks?: Array<{ name?: string }> }])[0].tool_call_chunks ?? []));
    expect(toolCallChunks.some((chunk) => chunk.name === "search_documents")).toBe(true);
    const toolsUpdate = events.find((part) => part.event === "updates" && "tools" in (part.data as object));
    const toolMessage = (toolsUpdate!.data as { tools: { messages: Array<{ content: string; artifact: { citations: Array<{ n: number; source: string; text: string }> } }> } }).tools.messages[0]!;
    expect(toolMessage.artifact.citations[0]).toMatchObject({ n: 1, source: "refund-policy.md" });

    const state = await server.client.threads.getState<{ messages: Array<{ type: string; content: string; tool_calls?: Array<{ name: string; args: { query: string } }>; artifact?: unknown }> }>(thread.thread_id);
    const messages = state.values.messages;
    expect(messages.map((message) => message.type)).toEqual(["human", "ai", "tool", "ai"]);
    expect(messages[1]!.tool_calls?.[0]).toMatchObject({ name: "search_documents", args: { query: "How many days do I have to return an item?" } });
    expect(messages[3]!.content).toBe("Customers may return any item within 30 days of delivery for a full refund. [1]");

    // What reached the model: the tool and its instructions, then the passage it cites.
    const [first, second] = stub.requests.map((request) => request.body);
    expect((first!.tools as Array<{ function: { name: string } }>).map((tool) => tool.function.name)).toEqual(["search_documents"]);
    expect(wireText(first!.messages[0]!)).toContain(RETRIEVAL_INSTRUCTIONS);
    const toolResult = second!.messages.at(-1)!;
    expect(toolResult.role).toBe("tool");
    expect(wireText(toolResult)).toMatch(/^\[1\] refund-policy\.md \(part \d+\)\n[^[]*30 days/);
  });

  it("leaves threads without a collection exactly as before: no tool, no instructions", async () => {
    await handbook();
    const thread = await server.client.threads.create();
    const result = (await server.client.runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "Hello" }] } })) as { messages: Array<{ content: string }> };
    expect(result.messages.map((message) => message.content)).toEqual(["Hello", "You said: Hello"]);
    expect(stub.requests).toHaveLength(1);
    expect(stub.requests[0]!.body.tools).toBeUndefined();
    expect(stub.requests[0]!.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "Hello"]);
  });

  it("binds a run to a collection through configurable.collection_id too", async () => {
    const { collectionId } = await handbook();
    const thread = await server.client.threads.create();
    const result = (await server.client.runs.wait(thread.thread_id, "agent", {
      input: { messages: [{ role: "user", content: "Within how many days can I return something?" }] },
      config: { configurable: { collection_id: collectionId } },
    })) as { messages: Array<{ content: string }> };
    expect(result.messages.at(-1)!.content).toContain("30 days");
  });

  it("forgets a deleted document at once, in search and in answers", async () => {
    const { collectionId, ids } = await handbook();
    expect((await server.request(`/collections/${collectionId}/documents/${ids["refund-policy.md"]}`, { method: "DELETE" })).status).toBe(204);
    const found = await search(collectionId, "How many days do I have to return an item for a refund?", 10);
    expect(found.results.map((result) => result.source)).not.toContain("refund-policy.md");
    expect((await server.request(`/collections/${collectionId}/documents/${ids["refund-policy.md"]}`)).status).toBe(404);
    expect(((await server.request(`/collections/${collectionId}`)).body as { document_count: number }).document_count).toBe(2);

    const thread = await server.client.threads.create({ metadata: { collection_id: collectionId } });
    const result = (await server.client.runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "How many days do I have to return an item?" }] } })) as { messages: Array<{ content: string }> };
    expect(result.messages.at(-1)!.content).toBe("The documents do not say.");

    expect((await server.request(`/collections/${collectionId}`, { method: "DELETE" })).status).toBe(204);
    expect((await server.request(`/collections/${collectionId}`)).status).toBe(404);
    expect((await server.request("/collections")).body).toEqual([]);
  });

  it("reads PDFs", async () => {
    const { collectionId } = await handbook();
    const added = await server.request(`/collections/${collectionId}/documents`, { body: { source: "warranty.pdf", content_base64: minimalPdf("The warranty lasts 24 months from purchase.").toString("base64") } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body).toMatchObject({ content_type: "application/pdf", source: "warranty.pdf" });
    const found = await search(collectionId, "How long is the warranty?");
    expect(found.results[0]).toMatchObject({ source: "warranty.pdf" });
    expect(found.results[0]!.text).toContain("24 months");
  });

  it("refuses bad input with clear 4xx errors and stores nothing", async () => {
    const { collectionId } = await handbook();
    const unknown = "00000000-0000-4000-8000-000000000000";
    const expectError = async (path: string, init: Parameters<TestServer["request"]>[1], status: number, detail: RegExp) => {
      const response = await server.request(path, init);
      expect(response.status, `${path} ${JSON.stringify(response.body)}`).toBe(status);
      expect((response.body as { detail: string }).detail).toMatch(detail);
    };
    await expectError(`/collections/${collectionId}/documents`, { body: { source: "empty.txt", content: "" } }, 422, /has no text/);
    await expectError(`/collections/${collectionId}/documents`, { body: { source: "blank.md", content: "  \n\n " } }, 422, /has no text/);
    await expectError(`/collections/${collectionId}/documents`, { body: { content: "no source" } }, 422, /source/);
    await expectError(`/collections/${collectionId}/documents`, { body: { source: "a.txt", content: "x", content_base64: "eA==" } }, 422, /exactly one of/);
    await expectError(`/collections/${collectionId}/documents`, { body: { source: "a.doc", content: "x", content_type: "application/msword" } }, 422, /content_type/);
    await expectError(`/collections/${collectionId}/documents`, { body: { source: "fake.pdf", content_base64: Buffer.from("not a pdf").toString("base64") } }, 422, /not a PDF/);
    await expectError(`/collections/${collectionId}/documents`, { body: { source: "huge.txt", content: "word ".repeat(10_000) } }, 413, /too large/);
    await expectError(`/collections/${unknown}/documents`, { body: { source: "a.txt", content: "text" } }, 404, /Collection .* not found/);
    await expectError(`/collections/${unknown}/search`, { body: { query: "refund" } }, 404, /not found/);
    await expectError(`/collections/${unknown}`, {}, 404, /not found/);
    await expectError(`/collections/not-a-uuid`, {}, 422, /UUID/);
    await expectError(`/collections/${collectionId}/search`, { body: { query: "" } }, 422, /query/);
    await expectError("/collections", { body: { name: "" } }, 422, /name/);
    // A run bound to an unknown collection is refused before anything is stored.
    const thread = await server.client.threads.create();
    await expectError(`/threads/${thread.thread_id}/runs/wait`, { body: { assistant_id: "agent", input: { messages: [{ role: "user", content: "Hi" }] }, config: { configurable: { collection_id: unknown } } } }, 404, /Collection .* not found/);
    expect(await server.client.runs.list(thread.thread_id)).toEqual([]);
    expect(((await server.request(`/collections/${collectionId}`)).body as { document_count: number }).document_count).toBe(3);
    expect(stub.requests).toHaveLength(0);
  });

  it("fails an upload whose embeddings fail, keeping nothing of it", async () => {
    const { collectionId } = await handbook();
    stub.failEmbeddings(500);
    const response = await server.request(`/collections/${collectionId}/documents`, { body: { source: "late.txt", content: "Added while the embeddings endpoint was down." } });
    expect(response.status).toBe(502);
    expect((response.body as { detail: string }).detail).toMatch(/embeddings model failed/);
    expect(((await server.request(`/collections/${collectionId}`)).body as { document_count: number }).document_count).toBe(3);
    // Searching still works, by full text alone.
    const found = await search(collectionId, "refund days");
    expect(found.methods).toEqual(["text"]);
    expect(found.results[0]!.source).toBe("refund-policy.md");
  });
});

describe("collections with API keys", () => {
  it("belong to their owner: others get 404 and do not see them listed", async () => {
    const stub = await startOpenAiStub();
    const server = await startServer(stub, { env: { API_KEYS: "alice:alice-key-0123456789abc,bob:bob-key-0123456789abcdef" } });
    try {
      const as = (key: string) => ({ headers: { "x-api-key": key } });
      const created = await server.request("/collections", { body: { name: "Alice's notes" }, ...as("alice-key-0123456789abc") });
      expect(created.status).toBe(201);
      const id = (created.body as { collection_id: string }).collection_id;
      expect((await server.request(`/collections/${id}`, as("bob-key-0123456789abcdef"))).status).toBe(404);
      expect((await server.request(`/collections/${id}/documents`, { body: { source: "x.txt", content: "x" }, ...as("bob-key-0123456789abcdef") })).status).toBe(404);
      expect((await server.request("/collections", as("bob-key-0123456789abcdef"))).body).toEqual([]);
      expect(((await server.request("/collections", as("alice-key-0123456789abc"))).body as unknown[]).length).toBe(1);
      expect((await server.request("/collections")).status).toBe(401);
    } finally {
      await server.close();
      await stub.close();
    }
  });
});

describe("documents from code", () => {
  it("adds documents and answers from them with graph.invoke and configurable.collection_id", async () => {
    const stub = await startOpenAiStub();
    stub.respondWith(retrievalResponder);
    const dir = makeTempDir();
    const { agent, checkpointer, documents } = createAgentFromConfig(makeConfig(stub, dir, { EMBEDDING_MODEL: "stub-embedding" }));
    try {
      const collection = await documents.createCollection({ name: "Handbook" });
      for (const document of DOCUMENTS) await documents.addDocument({ collectionId: collection.collectionId, source: document.source, contentType: "text/markdown", text: document.content });
      const { hits, methods } = await documents.search(collection.collectionId, "return an item within how many days", 2);
      expect(methods).toEqual(["text", "vector"]);
      expect(hits[0]?.source).toBe("refund-policy.md");
      const result = await agent.invoke(
        { messages: [new HumanMessage("How many days do I have to return an item?")] },
        { configurable: { thread_id: "from-code", collection_id: collection.collectionId } },
      );
      expect(result.messages.at(-1)?.text).toBe("Customers may return any item within 30 days of delivery for a full refund. [1]");
    } finally {
      await checkpointer.close();
      await stub.close();
      removeDir(dir);
    }
  });
});

/** A one-page PDF with `text` in Helvetica, written by hand (no PDF library needed to make it). */
function minimalPdf(text: string): Buffer {
  const stream = `BT /F1 12 Tf 72 720 Td (${text}) Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let body = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((object, index) => {
    offsets.push(body.length);
    body += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n \n`).join("")}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, "latin1");
}
