/**
 * The agent streaming protocol from a test's side, on raw HTTP: a command's answer, and a
 * thread's SSE events read until the run that is going ends (its root lifecycle's last event).
 */

/** An event as the server sends it. */
export interface WireEvent {
  type: "event";
  event_id: string;
  seq: number;
  method: string;
  params: { namespace: string[]; timestamp: number; node?: string; data: any };
}

/** POSTs one command; the HTTP status and the JSON answer. */
export async function sendCommand(baseUrl: string, threadId: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}/threads/${threadId}/commands`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** True for the root lifecycle event that ends a run. */
export const endsRun = (event: WireEvent): boolean =>
  event.method === "lifecycle" && event.params.namespace.length === 0 && ["completed", "failed", "interrupted"].includes(event.params.data.event);

/**
 * Opens an SSE stream with `filter` and collects its events until `stop` says so (by default at
 * the end of a run), or `timeoutMs` passes (then it fails: a bound, not a timing assertion).
 */
export async function readEvents(
  baseUrl: string,
  threadId: string,
  filter: Record<string, unknown>,
  options: { stop?: (event: WireEvent, all: WireEvent[]) => boolean; headers?: Record<string, string>; timeoutMs?: number; onOpen?: () => void | Promise<void> } = {},
): Promise<WireEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("no end of run within the bound")), options.timeoutMs ?? 60_000);
  const stop = options.stop ?? endsRun;
  const events: WireEvent[] = [];
  try {
    const response = await fetch(`${baseUrl}/threads/${threadId}/stream/events`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...options.headers },
      body: JSON.stringify(filter),
      signal: controller.signal,
    });
    if (response.status !== 200) throw new Error(`stream answered ${response.status}: ${await response.text()}`);
    await options.onOpen?.();
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split("\n").find((line) => line.startsWith("data: "));
        if (!data) continue;
        const event = JSON.parse(data.slice(6)) as WireEvent;
        events.push(event);
        if (stop(event, events)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
