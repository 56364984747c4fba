/** Browser helpers for the `/api/v1` JSON API and the live events WebSocket. */

/** An API answer: status and parsed JSON body (null when there is none). */
export interface ApiAnswer<T = unknown> {
  status: number;
  ok: boolean;
  body: T;
}

/** The message of an `{"error": {message}}` body, or a fallback naming the status. */
export function errorMessage(answer: ApiAnswer): string {
  const err = (answer.body as { error?: { message?: string; fields?: Record<string, string> } })
    ?.error;
  if (err?.fields) {
    return `${err.message ?? "Invalid request"}: ${
      Object.entries(err.fields).map(([k, v]) => `${k}: ${v}`).join("; ")
    }`;
  }
  return err?.message ?? `The server answered ${answer.status}`;
}

/** Calls the API; network failures reject with a TypeError (the caller may queue offline). */
export async function api<T = unknown>(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer<T>> {
  const res = await fetch(path, {
    method,
    headers: {
      accept: "application/json",
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    credentials: "same-origin",
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { error: { message: text.slice(0, 200) } };
  }
  return { status: res.status, ok: res.ok, body: body as T };
}

/**
 * The newer of two snapshots of one registration: an answer read before an event can arrive after
 * it, and must not put an older state back on screen.
 */
export function newer<T extends { id: string; updated_at?: string }>(shown: T | null, next: T): T {
  if (!shown || shown.id !== next.id || !shown.updated_at || !next.updated_at) return next;
  return next.updated_at >= shown.updated_at ? next : shown;
}

/** `ws://` or `wss://` URL for a path on this origin. */
export function socketUrl(path: string): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
}

/**
 * Subscribes to `/api/v1/events`, reconnecting with backoff; `onOpen` runs on every (re)connect so
 * the caller can re-read state it may have missed. Returns the unsubscribe function.
 */
export function subscribeEvents(
  onEvent: (event: Record<string, unknown>) => void,
  onOpen?: () => void,
): () => void {
  let ws: WebSocket | null = null;
  let closed = false;
  let delay = 500;
  const connect = () => {
    if (closed) return;
    ws = new WebSocket(socketUrl("/api/v1/events"));
    ws.onopen = () => {
      delay = 500;
      onOpen?.();
    };
    ws.onmessage = (m) => {
      try {
        onEvent(JSON.parse(m.data));
      } catch {
        // Ignore a malformed frame rather than drop the connection.
      }
    };
    ws.onclose = () => {
      if (closed) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  connect();
  return () => {
    closed = true;
    ws?.close();
  };
}
