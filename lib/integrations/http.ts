/** The one HTTP layer for every integration: timeout, retry with jittered backoff, typed errors, redaction. */
import type { Metrics } from "../observability/metrics.ts";

/** Integrations we call; names appear in errors, logs and metrics. */
export type Integration = "netbox" | "openbao" | "kea" | "kubernetes" | "redfish" | "oidc";

/** Any failed external call: names the integration, operation and status; never carries a secret. */
export class IntegrationError extends Error {
  override name = "IntegrationError";
  readonly integration: Integration;
  readonly operation: string;
  readonly method: string;
  /** URL with credentials and secret query values removed. */
  readonly url: string;
  /** HTTP status; 0 for network errors and timeouts. */
  readonly status: number;
  /** Parsed response body (redacted), when there was one. */
  readonly body: unknown;

  constructor(
    init: {
      integration: Integration;
      operation: string;
      method: string;
      url: string;
      status: number;
      body?: unknown;
      message?: string;
      cause?: unknown;
    },
  ) {
    const what = init.status === 0 ? "unreachable" : `HTTP ${init.status}`;
    super(
      init.message ??
        `${init.integration} ${init.operation} failed: ${what} (${init.method} ${init.url})${
          summarizeBody(init.body)
        }`,
      { cause: init.cause },
    );
    this.integration = init.integration;
    this.operation = init.operation;
    this.method = init.method;
    this.url = init.url;
    this.status = init.status;
    this.body = init.body;
  }

  /** Network errors, timeouts, 429 and 5xx are worth another try. */
  get transient(): boolean {
    return isTransientStatus(this.status);
  }
}

export function isTransientStatus(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

/** Longest upstream text kept in a message, after redaction. */
export const DETAIL_MAX = 300;

/**
 * A summary of an error body for a message: the upstream's own message fields (Netbox `detail`
 * or per-field lists, OpenBao `errors`, Redfish `error.message`, a Kubernetes Status' reason and
 * causes, Kea `text`), never a text body copied whole. Redacted before it is cut to length.
 */
export function summarizeBody(body: unknown, secrets: readonly string[] = []): string {
  if (body == null || typeof body !== "object") return "";
  const b = body as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  let parts: string[];
  if (b.kind === "Status") {
    const causes = (b.details as { causes?: Record<string, unknown>[] })?.causes ?? [];
    const said = causes.filter((c) => c.message).map((c) =>
      c.field ? `${c.field}: ${text(c.message)}` : text(c.message)
    );
    parts = [
      [b.reason, said.length ? said.join("; ") : b.message].filter(Boolean).map(text).join(": "),
    ];
  } else if ("detail" in b) parts = [text(b.detail)];
  else if ("message" in b) parts = [text(b.message)];
  else if (Array.isArray(b.errors)) parts = b.errors.map(text);
  else if (b.error && typeof b.error === "object") {
    parts = [text((b.error as Record<string, unknown>).message ?? "")];
  } else if (Array.isArray(body)) parts = body.map((a) => text(a?.text ?? ""));
  else {parts = Object.entries(b).map(([k, v]) =>
      `${k}: ${Array.isArray(v) ? v.map(text).join(" ") : text(v)}`
    );}
  const joined = parts.filter(Boolean).join("; ");
  return joined ? `: ${truncateSafely(redactText(joined, secrets), DETAIL_MAX, secrets)}` : "";
}

const SECRET_QUERY = /([?&](?:token|secret|secret_id|password|access_token|sig)=)[^&]*/gi;

/** Removes userinfo and secret query values from a URL for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(SECRET_QUERY, "$1***");
  } catch {
    return url.replace(SECRET_QUERY, "$1***");
  }
}

/** Secrets this short are redacted only as whole tokens: anywhere would wreck every message. */
const SHORT_SECRET = 4;

/** UTF-8 base64 of `text`. */
function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The encodings a secret may take in an upstream's answer or our own output: raw, JSON-escaped
 * (once and twice: a JSON message inside a JSON body), URL- and form-encoded, and base64 at each
 * of the three byte alignments (the characters that do not depend on neighbouring bytes).
 */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  const json = JSON.stringify(secret).slice(1, -1);
  forms.add(json);
  forms.add(JSON.stringify(json).slice(1, -1));
  forms.add(encodeURIComponent(secret));
  forms.add(encodeURIComponent(secret).replace(/%20/g, "+"));
  const bytes = new TextEncoder().encode(secret);
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + bytes.length);
    padded.set(bytes, shift);
    const full = base64(padded).replace(/=+$/, "");
    const start = Math.ceil((shift * 4) / 3);
    const end = Math.floor((padded.length * 4) / 3);
    const core = full.slice(start, end);
    if (core.length >= SHORT_SECRET) {
      forms.add(core);
      forms.add(core.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...forms].filter(Boolean);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Replaces every encoding of each secret with `***`, longest first. A secret shorter than 4
 * characters is replaced only where it stands alone (between characters that are not letters or
 * digits), unless `short` is false (for JSON text, where `"ms":7` must stay valid).
 */
export function redactText(
  text: string,
  secrets: readonly string[],
  options: { short?: boolean } = {},
): string {
  const forms = [...new Set(secrets.filter(Boolean).flatMap(secretForms))]
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const f of forms) {
    if (f.length >= SHORT_SECRET) out = out.split(f).join("***");
    else if (options.short !== false) {
      out = out.replace(
        // Standing alone: no letter or digit around it, except after a %XX escape.
        new RegExp(
          `(?:(?<=%[0-9A-Fa-f]{2})|(?<![\\p{L}\\p{N}]))${escapeRegExp(f)}(?![\\p{L}\\p{N}])`,
          "gu",
        ),
        "***",
      );
    }
  }
  return out;
}

/**
 * Cuts `text` to `max` characters, then drops a tail that could be the start (4+ characters) of
 * any encoding of a secret, so a cut never leaves a recognisable prefix behind.
 */
export function truncateSafely(text: string, max: number, secrets: readonly string[]): string {
  if (text.length <= max) return text;
  let out = text.slice(0, max);
  for (const f of secrets.filter(Boolean).flatMap(secretForms)) {
    for (let k = Math.min(f.length - 1, out.length); k >= SHORT_SECRET; k--) {
      if (out.endsWith(f.slice(0, k))) {
        out = out.slice(0, -k);
        break;
      }
    }
  }
  return `${out}…`;
}

/** Deep-copies a JSON value replacing secret values and values of secret-looking keys. */
export function redactValue(value: unknown, secrets: readonly string[] = []): unknown {
  if (typeof value === "string") return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v != null && v !== "" ? "***" : redactValue(v, secrets);
    }
    return out;
  }
  return value;
}

export const SECRET_KEY =
  /^(password|bmc_password|secret|secret_id|client_secret|token|client_token|access_token|id_token|refresh_token|authorization|x-vault-token|x-auth-token)$/i;

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
    const headers = new Headers(opts.headers);
    let body: BodyInit | undefined;
    if (opts.body !== undefined) {
      if (typeof opts.body === "string") body = opts.body;
      else {
        body = JSON.stringify(opts.body);
        if (!headers.has("content-type")) headers.set("content-type", "application/json");
      }
    }
    if (!headers.has("accept")) headers.set("accept", "application/json");
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
      const backoff = Math.random() *
        Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (i - 1));
      const wait = Math.min(policy.maxDelayMs, retryAfterMs(got?.res.headers) ?? backoff);
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

function withQuery(url: string, query: RequestOptions["query"]): string {
  if (!query) return url;
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
  return u.toString();
}
