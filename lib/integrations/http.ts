/** The one HTTP layer for every integration: timeout, retry with jittered backoff, typed errors, redaction. */
import type { Metrics } from "../observability/metrics.ts";
export { DETAIL_MAX, type Integration, IntegrationError, summarizeBody } from "../domain/errors.ts";
export {
  redactText,
  redactUrl,
  redactValue,
  secretForms,
  truncateSafely,
} from "../domain/redact.ts";
import {
  type Integration,
  IntegrationError,
  isTransientStatus,
  summarizeBody,
} from "../domain/errors.ts";
import { redactText, redactUrl, redactValue } from "../domain/redact.ts";

export interface RetryPolicy {
  /** Total attempts including the first (1 = no retry). */
  attempts: number;
  /** Base delay in ms for exponential backoff with full jitter. */
  baseDelayMs: number;
  /** Longest single wait in ms, also the cap for Retry-After. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5000 };

export interface HttpClientOptions {
  integration: Integration;
  /** Injected transport; tests pass a fake server's handler. */
  fetch?: typeof fetch;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Values to scrub from errors (tokens, passwords). May change over time (re-login). */
  secrets?: () => readonly string[];
  metrics?: Metrics;
  /** "manual" answers a redirect as it is (a 3xx) instead of following it; default "follow". */
  redirect?: RequestRedirect;
}

export interface RequestOptions {
  /** JSON body (serialised here) or a raw string. */
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** Statuses that are a normal answer rather than an error (e.g. 404 for "not found"). */
  accept?: number[];
  /** Set false for non-idempotent calls that must not be repeated after a response was lost. */
  retry?: boolean;
  /** Return the raw Response (streaming, e.g. a watch) instead of parsing. */
  stream?: boolean;
  /** Override the per-call timeout (ms). */
  timeoutMs?: number;
}

export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

export interface HttpClient {
  request<T = unknown>(
    operation: string,
    method: string,
    url: string,
    options?: RequestOptions,
  ): Promise<HttpResponse<T>>;
  requestStream(
    operation: string,
    method: string,
    url: string,
    options?: RequestOptions,
  ): Promise<Response>;
}

/** Waits `ms`, or rejects when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The wait after failed try number `attempt` (1-based): exponential backoff with full jitter. */
export function backoffMs(
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">,
  attempt: number,
): number {
  return Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
}

/**
 * Runs `fn` up to `policy.attempts` times while `transient` says its failure may pass, waiting
 * `backoffMs` between tries: the same policy for calls that are not one HTTP request (SQL, a
 * create that must look before it repeats).
 */
export async function retryTransient<T>(
  policy: RetryPolicy,
  transient: (error: unknown) => boolean,
  fn: (attempt: number) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  for (let i = 1;; i++) {
    try {
      return await fn(i);
    } catch (e) {
      if (i >= policy.attempts || !transient(e) || signal?.aborted) throw e;
    }
    await sleep(backoffMs(policy, i), signal);
  }
}

/** An integration failure worth another try: unreachable, timed out, 429, 502–504. */
export function isTransientFailure(error: unknown): boolean {
  return error instanceof IntegrationError && error.transient;
}

/** Seconds or HTTP-date from a Retry-After header, in ms. */
function retryAfterMs(headers: Headers | undefined): number | null {
  const v = headers?.get("retry-after");
  if (!v) return null;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

function parseText(text: string | null): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Builds the transport one integration client uses. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const doFetch = options.fetch ?? fetch;
  const policy = { ...DEFAULT_RETRY, ...options.retry };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const secrets = () => options.secrets?.() ?? [];

  /** One try; the body is read here (unless streaming) so a connection dropped mid-body is retried. */
  async function attempt(
    operation: string,
    method: string,
    url: string,
    opts: RequestOptions,
  ): Promise<{ res: Response; text: string | null }> {
    const headers = headerRecord(opts.headers);
    let body: BodyInit | undefined;
    if (opts.body !== undefined) {
      if (typeof opts.body === "string") body = opts.body;
      else {
        body = JSON.stringify(opts.body);
        headers["content-type"] ??= "application/json";
      }
    }
    headers.accept ??= "application/json";
    const full = withQuery(url, opts.query);
    const limit = opts.timeoutMs ?? timeoutMs;
    // A stream lives under its timeout; any other call clears its timer once the body is in, so a
    // finished call is not kept alive (with its request and response) until the timeout would fire.
    const own = opts.stream ? undefined : new AbortController();
    const timer = own &&
      setTimeout(() => own.abort(new DOMException("The call timed out", "TimeoutError")), limit);
    const timeout = own?.signal ?? AbortSignal.timeout(limit);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const started = performance.now();
    try {
      const res = await doFetch(full, {
        method,
        headers,
        body,
        signal,
        redirect: options.redirect,
      });
      const text = opts.stream ? null : await res.text();
      options.metrics?.observeCall(
        options.integration,
        operation,
        res.status,
        performance.now() - started,
      );
      return { res, text };
    } catch (cause) {
      options.metrics?.observeCall(options.integration, operation, 0, performance.now() - started);
      if (opts.signal?.aborted) throw opts.signal.reason;
      const timedOut = timeout.aborted;
      throw new IntegrationError({
        integration: options.integration,
        operation,
        method,
        url: redactUrl(full),
        status: 0,
        message: `${options.integration} ${operation} failed: ${
          timedOut ? `no answer within ${opts.timeoutMs ?? timeoutMs} ms` : "unreachable"
        } (${method} ${redactUrl(full)})${
          timedOut ? "" : `: ${redactText(causeText(cause), secrets())}`
        }`,
        cause,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async function send(
    operation: string,
    method: string,
    url: string,
    opts: RequestOptions,
  ): Promise<{ res: Response; text: string | null }> {
    const attempts = opts.retry === false ? 1 : policy.attempts;
    for (let i = 1;; i++) {
      let got: { res: Response; text: string | null } | undefined;
      let error: IntegrationError | undefined;
      try {
        got = await attempt(operation, method, url, opts);
      } catch (e) {
        if (!(e instanceof IntegrationError)) throw e;
        error = e;
      }
      const status = got?.res.status ?? 0;
      if (got && (got.res.ok || opts.accept?.includes(status) || !isTransientStatus(status))) {
        return got;
      }
      if (i >= attempts) {
        if (error) throw error;
        return got!;
      }
      const wait = Math.min(
        policy.maxDelayMs,
        retryAfterMs(got?.res.headers) ?? backoffMs(policy, i),
      );
      await got?.res.body?.cancel().catch(() => {});
      await sleep(wait, opts.signal);
    }
  }

  function fail(
    operation: string,
    method: string,
    url: string,
    got: { res: Response; text: string | null },
    query?: RequestOptions["query"],
  ): never {
    const body = redactValue(parseText(got.text), secrets());
    const where = `${method} ${redactUrl(withQuery(url, query))}`;
    throw new IntegrationError({
      integration: options.integration,
      operation,
      method,
      url: redactUrl(withQuery(url, query)),
      status: got.res.status,
      body,
      message: `${options.integration} ${operation} failed: HTTP ${got.res.status} (${where})${
        summarizeBody(body, secrets())
      }`,
    });
  }

  return {
    async request<T>(operation: string, method: string, url: string, opts: RequestOptions = {}) {
      const got = await send(operation, method, url, { ...opts, stream: false });
      if (!got.res.ok && !opts.accept?.includes(got.res.status)) {
        fail(operation, method, url, got, opts.query);
      }
      return { status: got.res.status, headers: got.res.headers, body: parseText(got.text) as T };
    },
    async requestStream(operation: string, method: string, url: string, opts: RequestOptions = {}) {
      const got = await send(operation, method, url, { ...opts, stream: true });
      if (!got.res.ok && !opts.accept?.includes(got.res.status)) {
        fail(
          operation,
          method,
          url,
          { res: got.res, text: await got.res.text().catch(() => null) },
          opts.query,
        );
      }
      return got.res;
    },
  };
}

/** A network error's message with its causes: Deno's fetch says only "fetch failed" and keeps
 * the reason (refused connection, untrusted certificate) in `cause`. */
function causeText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e != null && depth < 5; depth++) {
    const text = e instanceof Error ? e.message : String(e);
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  // The innermost reason is the informative one: "fetch failed: error sending request …".
  return parts.join(": ");
}

/** Headers as a plain record, names in lower case: fetch converts a Headers object again. */
function headerRecord(given: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(given)) out[k.toLowerCase()] = v;
  return out;
}

function withQuery(url: string, query: RequestOptions["query"]): string {
  if (!query) return url;
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
  return u.toString();
}
