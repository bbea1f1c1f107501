/**
 * A minimal chat on `useStream` from @langchain/react, LangChain's own React client, talking to
 * this server over the agent streaming protocol. Bundle it (`npx esbuild app.tsx --bundle
 * --format=esm --jsx=automatic --minify --outfile=app.js`), serve it beside index.html, and open
 * `index.html?apiUrl=http://127.0.0.1:8123` (add `&transport=websocket` for a WebSocket) with the
 * page's origin listed in `CORS_ORIGINS`.
 */
import { useStream } from "@langchain/react";
import { type FormEvent, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

const query = new URLSearchParams(location.search);
/** The server: `?apiUrl=` in the page's address, else its default address. */
const API_URL = query.get("apiUrl") ?? "http://127.0.0.1:8123";
/** How the thread's events arrive: server-sent events, or `?transport=websocket`. */
const TRANSPORT = query.get("transport") === "websocket" ? "websocket" : "sse";

/** The thread named by the address's hash, if any. */
const threadInUrl = (): string | null => location.hash.slice(1) || null;

function Chat() {
  // The thread id lives in the address, so a reload (or a shared link) reopens the same chat.
  const [threadId, setThreadId] = useState(threadInUrl);
  useEffect(() => {
    history.replaceState(null, "", `${location.pathname}${location.search}${threadId ? `#${threadId}` : ""}`);
  }, [threadId]);

  // With no thread yet, the first message creates one and `onThreadId` reports its id.
  const stream = useStream({ apiUrl: API_URL, transport: TRANSPORT, assistantId: "agent", threadId, onThreadId: setThreadId });

  function send(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const text = String(new FormData(form).get("message") ?? "").trim();
    if (!text) return;
    form.reset();
    void stream.submit({ messages: [{ type: "human", content: text }] });
  }

  return (
    <main aria-busy={stream.isLoading}>
      <button type="button" onClick={() => setThreadId(null)}>
        New thread
      </button>
      <ol>
        {/* Messages arrive token by token: the reply being written grows in place. */}
        {stream.messages.map((message, index) => (
          <li key={message.id ?? index} className={message.type}>
            {message.text}
          </li>
        ))}
      </ol>
      {stream.error ? <p role="alert">{String(stream.error)}</p> : null}
      <form onSubmit={send}>
        <input name="message" placeholder="Message" autoComplete="off" autoFocus />
        <button disabled={stream.isLoading}>Send</button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")!).render(<Chat />);
