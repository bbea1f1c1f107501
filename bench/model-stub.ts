/**
 * The model of the real-path benchmark, in its own process so that neither the server nor the
 * floor shares a core's event loop with it: the tests' OpenAI-compatible stub, answering each
 * call with the next of the benchmark's answers (about 560 characters, streamed word by word
 * when asked to stream). Prints `{"baseUrl": ...}` once listening and counts the calls it got.
 */
import { createInterface } from "node:readline";
import { startOpenAiStub } from "../tests/support/openai-stub.js";
import { ANSWERS } from "./workloads.js";

const stub = await startOpenAiStub();
let answered = 0;
stub.respondWith(() => ANSWERS[answered++ % ANSWERS.length]!);
// The stub records every request for the tests; a long benchmark must not keep them.
setInterval(() => (stub.requests.length = 0), 1000).unref();
console.log(JSON.stringify({ baseUrl: stub.baseUrl }));
// Each line on stdin asks how many calls were answered so far.
for await (const _line of createInterface({ input: process.stdin })) console.log(JSON.stringify({ calls: answered }));
await stub.close();
