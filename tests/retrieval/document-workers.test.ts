/**
 * The worker process's splitting (document-worker.mjs, plain JavaScript) against `splitText`
 * (chunking.ts, in process): the same chunks for the same text, so a document is cut the same way
 * whether it is long enough to be split in a worker or not.
 */
import { describe, expect, it } from "vitest";
import { splitText } from "../../src/retrieval/chunking.js";
import { DocumentWorkers } from "../../src/retrieval/document-workers.js";

const markdown = Array.from({ length: 40 }, (_, index) => `## Section ${index}\n\n${"Refunds are paid within five business days. ".repeat(30)}\n\n- item one\n- item two\n\n\`\`\`\ncode ${index}\n\`\`\``).join("\n\n");
const plain = Array.from({ length: 60 }, (_, index) => `Paragraph ${index}. ${"Orders ship from Lyon within two days. ".repeat(25)}`).join("\n\n");

describe("DocumentWorkers' splitting", () => {
  const workers = new DocumentWorkers({ memoryMb: 256, timeoutMs: 60_000 });
  for (const [contentType, text] of [["text/markdown", markdown], ["text/plain", plain]] as const) {
    it(`cuts ${contentType} exactly as splitText does`, async () => {
      const options = { chunkSize: 300, chunkOverlap: 40 };
      const outcome = await workers.run({ kind: "split", text, contentType, ...options });
      expect(outcome.kind).toBe("pieces");
      const pieces = (outcome as { pieces: string[] }).pieces;
      expect(pieces.length).toBeGreaterThan(50);
      expect(pieces).toEqual(await splitText(text, contentType, options));
    });
  }
});
