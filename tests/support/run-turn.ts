/**
 * One conversation turn in a process of its own: `run-turn.ts <thread> <message>` prints
 * `{"reply": ..., "messages": n}`. Used to prove threads survive a process restart.
 */
import { HumanMessage } from "@langchain/core/messages";
import { loadConfig } from "../../src/config.js";
import { createAgentFromConfig } from "../../src/composition/agent-from-config.js";

const [threadId, text] = process.argv.slice(2);
const { agent, checkpointer } = createAgentFromConfig(loadConfig());
const result = await agent.invoke({ messages: [new HumanMessage(text ?? "")] }, { configurable: { thread_id: threadId } });
await checkpointer.close();
console.log(JSON.stringify({ reply: result.messages.at(-1)?.content, messages: result.messages.length }));
