/**
 * `npx tsx bench/upload-stall.ts [--megabytes 9.9] [--backend sqlite|postgres] [--pdf]`: the event
 * loop's longest stall while one large text document (or, with `--pdf`, a 50 KB PDF holding six
 * million characters) is uploaded and indexed, on SQLite and PostgreSQL, measured
 * in the server's process with `perf_hooks.monitorEventLoopDelay`, and how long `/ok` waited at
 * worst when polled during the upload. The server runs in this process (so the histogram sees its
 * event loop); the upload's body is serialised before measuring. A benchmark, not a test: the
 * numbers depend on the machine (and on what else it is running).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { startOpenAiStub } from "../tests/support/openai-stub.js";
import { makePdf, repeatedLinePage } from "../tests/support/pdf.js";
import { type Backend, startServer } from "../tests/support/server.js";

const { values } = parseArgs({ options: { megabytes: { type: "string", default: "9.9" }, backend: { type: "string" }, pdf: { type: "boolean", default: false }, "one-line": { type: "boolean", default: false } } });
const characters = Math.round(Number(values.megabytes) * 1_000_000);

/** Prose-like text: words and sentences in paragraphs, as a real document has. */
function prose(length: number): string {
  const words = ["refund", "delivery", "warehouse", "customer", "policy", "the", "within", "days", "order", "payment", "invoice", "of", "and", "support"];
  const parts: string[] = [];
  let size = 0;
  let index = 0;
  while (size < length) {
    const sentence = `${Array.from({ length: 12 }, () => words[(index = (index * 7 + 3) % words.length)]).join(" ")}.`;
    // `--one-line`: no paragraph or line breaks, the splitters' slowest case.
    const piece = index % 5 === 0 && !values["one-line"] ? `${sentence}\n\n` : `${sentence} `;
    parts.push(piece);
    size += piece.length;
  }
  return parts.join("").slice(0, length);
}

// Serialised before measuring: the client shares the server's event loop here, and its own
// JSON.stringify is no part of what the server does.
const body = Buffer.from(
  JSON.stringify(
    values.pdf
      ? { source: "big.pdf", content_base64: makePdf([repeatedLinePage("The quick brown fox jumps over the lazy dog again and again", 100_000)]).toString("base64") }
      : { source: "big.txt", content: prose(characters) },
  ),
);
const stub = await startOpenAiStub();
const backends: Backend[] = values.backend ? [values.backend as Backend] : ["sqlite", "postgres"];
const report: Record<string, unknown> = {};
for (const backend of backends) {
  const server = await startServer(stub, { backend, env: { DOCUMENT_MAX_BYTES: String(characters * 2) } });
  try {
    const { collection_id } = (await server.request("/collections", { body: { name: "big" } })).body as { collection_id: string };
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    let done = false;
    let worstOk = 0;
    let polls = 0;
    const poll = (async () => {
      while (!done) {
        const started = performance.now();
        await fetch(`${server.baseUrl}/ok`);
        worstOk = Math.max(worstOk, performance.now() - started);
        polls += 1;
      }
    })();
    histogram.enable();
    const started = performance.now();
    const upload = await fetch(`${server.baseUrl}/collections/${collection_id}/documents`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const response = { status: upload.status, body: (await upload.json()) as unknown };
    const uploadMs = performance.now() - started;
    histogram.disable();
    done = true;
    await poll;
    report[backend] = {
      status: response.status,
      chunks: (response.body as { chunk_count?: number }).chunk_count,
      upload_ms: Math.round(uploadMs),
      max_event_loop_delay_ms: Math.round(histogram.max / 1e6),
      p99_event_loop_delay_ms: Math.round(histogram.percentile(99) / 1e6),
      worst_ok_ms: Math.round(worstOk),
      ok_polls: polls,
    };
  } finally {
    await server.close();
  }
}
await stub.close();
console.log(JSON.stringify({ upload: values.pdf ? "pdf" : `${characters} characters of text${values["one-line"] ? " on one line" : ""}`, ...report }, null, 2));
