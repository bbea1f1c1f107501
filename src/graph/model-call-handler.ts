/**
 * Callback handlers that only listen to model calls (tokens, starts, ends, errors), as the run's
 * partial reply and the server's metrics do.
 */
import { BaseCallbackHandler, type CallbackHandlerMethods } from "@langchain/core/callbacks/base";

/**
 * One class for all of them, rather than `BaseCallbackHandler.fromMethods`, which declares a new
 * class for each handler and names it with a fresh UUID: a run makes several handlers, and that
 * cost (a class, random bytes, an environment read) showed in a profile of the server at about
 * 1.5 % of a turn's CPU. LangChain tells handlers apart by identity, not by name.
 */
class ModelCallHandler extends BaseCallbackHandler {
  readonly name: string;
  readonly #methods: CallbackHandlerMethods;

  constructor(name: string, methods: CallbackHandlerMethods) {
    super();
    this.name = name;
    this.#methods = methods;
    Object.assign(this, methods);
    // Inline (not in LangChain's background queue): each method only records a little, and
    // must have run before the token moves on. Model events alone: every node, channel write
    // and branch of a run starts and ends a chain, and a handler that does not ignore those is
    // called, with a promise made for it, a few dozen times per turn.
    this.awaitHandlers = true;
    this.ignoreChain = true;
    this.ignoreAgent = true;
    this.ignoreRetriever = true;
    this.ignoreCustomEvent = true;
  }

  /** The base class's copy calls the constructor with the handler itself as its only argument. */
  override copy(): ModelCallHandler {
    return new ModelCallHandler(this.name, this.#methods);
  }
}

/** A handler named `name` (for LangChain's error messages) that LangChain calls inline and for model events alone. */
export function modelCallHandler(name: string, methods: CallbackHandlerMethods): BaseCallbackHandler {
  return new ModelCallHandler(name, methods);
}
