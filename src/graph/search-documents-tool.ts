import type { RunnableConfig } from "@langchain/core/runnables";
import { tool } from "@langchain/core/tools";
import { z } from "zod";
import type { SearchResult } from "../retrieval/document-index.js";

/** What the tool needs of the document index: a search of one collection. */
export interface DocumentSearch {
  search(collectionId: string, query: string, k: number): Promise<SearchResult>;
}

export const SEARCH_DOCUMENTS_TOOL = "search_documents";

/** Passages returned when the model does not say how many. */
export const DEFAULT_PASSAGES = 4;

/**
 * Added to the system prompt of a run bound to a collection, so the model knows the tool is there
 * and how to cite: the numbers in the tool's result are the citation marks.
 */
export const RETRIEVAL_INSTRUCTIONS =
  "You can search the user's documents with the search_documents tool. Use it whenever the answer may be in them, " +
  "answer from the passages it returns, and cite each passage you use by its number in square brackets, like [1]. " +
  "If the passages do not contain the answer, say so.";

/** The collection a run is bound to (`configurable.collection_id`), if any. */
export function collectionOf(config: RunnableConfig | undefined): string | undefined {
  const value: unknown = config?.configurable?.collection_id;
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** One passage as the tool's artifact carries it: what a client needs to show a citation. */
export interface Citation {
  /** The number the model cites it by: `[n]`. */
  n: number;
  chunk_id: string;
  document_id: string;
  source: string;
  position: number;
  score: number;
  text: string;
}

/**
 * The `search_documents` tool: searches the run's collection and returns the passages as
 * numbered text for the model, with the same passages as structured citations in the tool
 * message's `artifact` (what the web page shows under the answer).
 */
export function createSearchDocumentsTool(documents: DocumentSearch) {
  return tool(
    async ({ query, k }, config?: RunnableConfig) => {
      const collectionId = collectionOf(config);
      if (!collectionId) return ["No document collection is attached to this conversation.", { query, citations: [] }];
      const { hits, methods } = await documents.search(collectionId, query, k ?? DEFAULT_PASSAGES);
      const citations: Citation[] = hits.map((hit, index) => ({
        n: index + 1,
        chunk_id: hit.chunkId,
        document_id: hit.documentId,
        source: hit.source,
        position: hit.position,
        score: hit.score,
        text: hit.text,
      }));
      const content =
        citations.length === 0
          ? `No passage of the documents matches ${JSON.stringify(query)}.`
          : citations.map((citation) => `[${citation.n}] ${citation.source} (part ${citation.position + 1})\n${citation.text}`).join("\n\n");
      return [content, { query, collection_id: collectionId, methods, citations }];
    },
    {
      name: SEARCH_DOCUMENTS_TOOL,
      description: "Search the user's documents for passages relevant to a question. Returns numbered passages with their sources.",
      schema: z.object({
        query: z.string().min(1).describe("What to look for, in a few words or a question"),
        k: z.number().int().min(1).max(10).optional().describe(`How many passages to return (default ${DEFAULT_PASSAGES})`),
      }),
      responseFormat: "content_and_artifact",
    },
  );
}
