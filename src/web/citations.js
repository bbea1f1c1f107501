// @ts-check
/**
 * Citations of an answer: the passages of the `search_documents` results in the same turn that
 * the answer cites as `[n]`. Pure, so it is tested in Node as well as used by the page.
 */

/**
 * @typedef {{ n: number, chunk_id: string, document_id: string, source: string, position: number, score: number, text: string }} Citation
 * @typedef {{ type: string, content: unknown, artifact?: { citations?: Citation[] } }} CitingMessage
 */

/**
 * The passages that the answer at `position` cites, in the order it first cites them. The tool
 * results searched are those since the turn's user message; a number given by more than one
 * search means the latest one's passage.
 * @param {CitingMessage[]} messages
 * @param {number} position
 * @param {string} text the answer's text
 * @returns {Citation[]}
 */
export function citationsFor(messages, position, text) {
  /** @type {Map<number, Citation>} */
  const byNumber = new Map();
  for (let index = position - 1; index >= 0; index -= 1) {
    const message = messages[index];
    if (!message || message.type === "human") break;
    if (message.type !== "tool") continue;
    for (const citation of message.artifact?.citations ?? []) if (!byNumber.has(citation.n)) byNumber.set(citation.n, citation);
  }
  /** @type {Citation[]} */
  const cited = [];
  const seen = new Set();
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const citation = byNumber.get(Number(match[1]));
    if (citation && !seen.has(citation.chunk_id)) {
      seen.add(citation.chunk_id);
      cited.push(citation);
    }
  }
  return cited;
}
