/** Fault injection and serving for the simulators: errors, delays and dropped connections on demand. */

/** A fake's request handler; also usable directly as a `fetch` through `asFetch`. */
export type Handler = (req: Request) => Response | Promise<Response>;

export interface Fault {
  /** Substring or pattern of `METHOD /path?query` that the fault applies to; all requests when absent. */
  match?: string | RegExp;
  /** Answer with this status (and `body`) instead of the real handler. */
  status?: number;
  /** The answer's JSON body, or a function of the request's text (an upstream echoing input). */
  body?: unknown | ((request: { url: string; headers: Headers; text: string }) => unknown);
  headers?: Record<string, string>;
  /** Wait this long before answering (or before the fault). */
  delayMs?: number;
  /** Drop the connection instead of answering. */
  drop?: boolean;
  /** How many requests it affects; unlimited when absent. */
  times?: number;
}

/** Thrown by a handler to make the transport drop the connection. */
export class ConnectionDropped extends Error {
  override name = "ConnectionDropped";
}

/** A list of active faults a simulator consults before handling each request. */
export class Faults {
  #list: Fault[] = [];

  add(fault: Fault): void {
    this.#list.push({ ...fault });
  }

  clear(): void {
    this.#list = [];
  }

  /** Applies the first matching fault: returns a response to send, or null to handle normally. */
  async apply(req: Request): Promise<Response | null> {
    const url = new URL(req.url);
    const line = `${req.method} ${url.pathname}${url.search}`;
    const fault = this.#list.find((f) =>
      (f.times ?? 1) > 0 &&
      (!f.match || (typeof f.match === "string" ? line.includes(f.match) : f.match.test(line)))
    );
    if (!fault) return null;
    if (fault.times !== undefined) fault.times--;
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.drop) throw new ConnectionDropped(`dropped ${line}`);
    if (fault.status === undefined) return null;
    const body = typeof fault.body === "function"
      ? fault.body({ url: req.url, headers: req.headers, text: await req.clone().text() })
      : fault.body;
    return Response.json(body ?? { error: "injected fault" }, {
      status: fault.status,
      headers: fault.headers,
    });
  }
}

/** Wraps a handler as a `fetch` function; a dropped connection rejects like a real network error. */
export function asFetch(handler: Handler): typeof fetch {
  return async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    if (init?.signal?.aborted) throw init.signal.reason;
    const pending = (async () => {
      try {
        return await handler(req);
      } catch (e) {
        if (e instanceof ConnectionDropped) {
          throw new TypeError("error sending request: connection reset");
        }
        throw e;
      }
    })();
    const signal = init?.signal;
    if (!signal) return pending;
    let onAbort = () => {};
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  };
}

export interface ServedFake extends AsyncDisposable {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves a handler on 127.0.0.1 port 0; a dropped connection aborts the response body mid-stream. */
export function serveFake(
  handler: Handler,
  options: { port?: number; hostname?: string } = {},
): ServedFake {
  const server = Deno.serve({
    port: options.port ?? 0,
    hostname: options.hostname ?? "127.0.0.1",
    onListen: () => {},
  }, async (req) => {
    try {
      return await handler(req);
    } catch (e) {
      if (!(e instanceof ConnectionDropped)) throw e;
      const body = new ReadableStream({
        start(c) {
          c.error(e);
        },
      });
      return new Response(body, { status: 200 });
    }
  });
  const addr = server.addr as Deno.NetAddr;
  const close = async () => {
    await server.shutdown();
  };
  return {
    url: `http://${addr.hostname}:${addr.port}`,
    port: addr.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Request logs keep this many of the most recent lines: a long-running demo must not grow. */
export const REQUEST_LOG_LIMIT = 1000;

/** Appends to a simulator's request log, dropping the oldest lines beyond the limit. */
export function logRequest<T>(log: T[], entry: T): void {
  log.push(entry);
  if (log.length > REQUEST_LOG_LIMIT) log.splice(0, log.length - REQUEST_LOG_LIMIT);
}
