import { afterAll, beforeAll, beforeEach } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "./openai-stub.js";
import { type Backend, type TestServer, startServer } from "./server.js";

/**
 * For the enclosing `describe`: a stub model and a server on `backend`, started before its tests
 * and closed after them, with the stub reset before each test (no fault or custom reply leaks
 * from one test into the next). Read them as `fixture.stub` and `fixture.server` inside tests.
 */
export function useStubAndServer(backend: Backend, options: Omit<Parameters<typeof startServer>[1] & object, "backend"> = {}) {
  let stub: OpenAiStub | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { ...options, backend });
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });
  beforeEach(() => stub?.reset());
  return {
    get stub(): OpenAiStub {
      if (!stub) throw new Error("the stub model starts in beforeAll");
      return stub;
    },
    get server(): TestServer {
      if (!server) throw new Error("the server starts in beforeAll");
      return server;
    },
  };
}
