/**
 * Callback handlers that only listen to model calls (tokens, starts, ends, errors), as the run's
 * partial reply and the server's metrics do.
 */
import { BaseCallbackHandler, type CallbackHandlerMethods } from "@langchain/core/callbacks/base";

/**
 * A handler of `methods` that LangChain calls inline (not in its background queue: each method
 * only records a little, and must have run before the token moves on) and for model events
 * alone. Every node, channel write and branch of a run starts and ends a chain; a handler that
 * does not ignore those is called, with a promise made for it, a few dozen times per turn.
 */
export function modelCallHandler(methods: CallbackHandlerMethods): BaseCallbackHandler {
  const handler = BaseCallbackHandler.fromMethods(methods);
  handler.awaitHandlers = true;
  handler.ignoreChain = true;
  handler.ignoreAgent = true;
  handler.ignoreRetriever = true;
  handler.ignoreCustomEvent = true;
  return handler;
}
