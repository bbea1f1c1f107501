// @ts-check
/**
 * What the page says when something fails: one sentence per failure, without the status code
 * said three times over. Provider clients put the status in front of their own message ("500
 * Internal error"), the server says which status the provider answered ("answered HTTP 500: …"),
 * so a failed reply read "HTTP 500: 500 Internal error (after 3 attempts)".
 */

/**
 * The message shown for `error`: its own message, tidied.
 * @param {unknown} error
 * @returns {string}
 */
export function describeError(error) {
  const text = error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error);
  return tidyMessage(text);
}

/**
 * Removes the repetitions servers and clients pile onto a message: a status code repeated right
 * after "HTTP <status>:", and a reason that only says the status again.
 * @param {string} message
 * @returns {string}
 */
export function tidyMessage(message) {
  const attempts = /\s*\(after (\d+) attempts\)\s*$/.exec(message);
  let text = (attempts ? message.slice(0, attempts.index) : message).replace(/\s+/g, " ").trim();
  // "HTTP 500: 500 Internal error" → "HTTP 500: Internal error"
  text = text.replace(/\bHTTP (\d{3}): \1\b[\s:]*/g, "HTTP $1: ");
  // "HTTP 503: status code (no body)" (the OpenAI client's words for an empty answer), "HTTP 500: HTTP 500",
  // or "HTTP 500: " with nothing after it → "HTTP 500"
  text = text.replace(/\bHTTP (\d{3}): (?:status code \(no body\)|HTTP \1\b)?\s*$/, "HTTP $1");
  if (attempts) text = `${text.replace(/[.\s]+$/, "")} (after ${attempts[1]} attempts)`;
  return text === "" ? "Something went wrong" : text;
}
