/** OpenBao client: AppRole login with lazy token renewal, sys/health and KV v2 secrets
 * (read, check-and-set write, write-only-when-changed, soft delete). */
import {
  createHttpClient,
  type HttpClient,
  type HttpResponse,
  IntegrationError,
  redactUrl,
  type RequestOptions,
  type RetryPolicy,
  summarizeBody,
} from "./http.ts";
import type { Metrics } from "../observability/metrics.ts";

export interface OpenBaoSettings {
  url: string;
  roleId: string;
  secretId?: string;
  /** KV v2 mount; default `secret`. */
  mountPoint?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  metrics?: Metrics;
  /** Clock in ms for token lifetimes; tests share one with the fake. Default `Date.now`. */
  now?: () => number;
}

/** One version of a KV v2 secret. */
export interface SecretVersion {
  data: Record<string, string>;
  version: number;
}

export interface OpenBaoClient {
  /** GET /v1/sys/health → throws IntegrationError when sealed/uninitialised/unreachable. */
  health(): Promise<{ initialized: boolean; sealed: boolean; standby: boolean }>;
  /** KV v2 read of {mount}/data/{path}; null when absent or soft-deleted. */
  readSecret(path: string): Promise<SecretVersion | null>;
  /** KV v2 write with optional check-and-set. A cas mismatch throws IntegrationError status 400. */
  writeSecret(
    path: string,
    data: Record<string, string>,
    options?: { cas?: number },
  ): Promise<{ version: number }>;
  /** Writes a new version only when the data differs from the current one. A new key takes one
   * write (cas 0); an existing one is read, compared and written with its version as cas, with
   * one more read-compare-write after a cas conflict. */
  putIfChanged(
    path: string,
    data: Record<string, string>,
  ): Promise<{ version: number; changed: boolean }>;
  /** Soft-deletes the latest version; absent counts as done. */
  deleteSecret(path: string): Promise<void>;
  /** KV v2 read of one version; null when absent, deleted or destroyed. */
  readVersion(path: string, version: number): Promise<SecretVersion | null>;
  /** KV v2 key metadata: current version and custom metadata; null when the key is absent. */
  readMetadata(
    path: string,
  ): Promise<{ currentVersion: number; customMetadata: Record<string, string> } | null>;
  /** Replaces the key's custom metadata (KV v2 POST metadata; other settings unchanged). */
  writeMetadata(path: string, customMetadata: Record<string, string>): Promise<void>;
}

interface AuthBlock {
  client_token?: string;
  lease_duration?: number;
  renewable?: boolean;
}

interface Token {
  value: string;
  /** ms timestamps; Infinity for tokens without a TTL. */
  renewAt: number;
  expiresAt: number;
  renewable: boolean;
}

/** What the KV operations need from the client: the authenticated call and the scrub list. */
interface KvContext {
  base: string;
  mount: string;
  call: <T>(
    operation: string,
    method: string,
    url: string,
    opts?: RequestOptions,
  ) => Promise<HttpResponse<T>>;
  /** Secret values being written right now, scrubbed from errors too. */
  inFlight: Map<string, number>;
  secrets: () => string[];
}

interface DataResponse {
  data?: {
    data?: Record<string, unknown> | null;
    metadata?: { version?: number } | null;
    version?: number;
  } | null;
}

/** Renew this long before the local expiry estimate at the latest, to absorb clock skew. */
const EXPIRY_MARGIN_MS = 5_000;

/** Creates an OpenBao client; no request is made until the first call. */
export function createOpenBaoClient(settings: OpenBaoSettings): OpenBaoClient {
  const base = settings.url.replace(/\/+$/, "");
  const mount = (settings.mountPoint ?? "secret").replace(/^\/+|\/+$/g, "");
  const now = settings.now ?? (() => Date.now());
  let token: Token | null = null;
  let pendingAuth: Promise<Token> | null = null;
  /** Secret values being written right now, scrubbed from errors too. */
  const inFlight = new Map<string, number>();

  const secrets = () => [
    settings.roleId,
    settings.secretId ?? "",
    token?.value ?? "",
    ...inFlight.keys(),
  ];
  const http = createHttpClient({
    integration: "openbao",
    fetch: settings.fetch,
    timeoutMs: settings.timeoutMs,
    retry: settings.retry,
    metrics: settings.metrics,
    secrets,
  });

  async function login(): Promise<Token> {
    const url = `${base}/v1/auth/approle/login`;
    const body: Record<string, string> = { role_id: settings.roleId };
    if (settings.secretId) body.secret_id = settings.secretId;
    try {
      const res = await http.request<{ auth?: AuthBlock }>("login", "POST", url, { body });
      return tokenFrom(res.body?.auth, "login", url, now());
    } catch (e) {
      if (e instanceof IntegrationError && e.status === 400) {
        throw new IntegrationError({
          integration: "openbao",
          operation: "login",
          method: "POST",
          url: e.url,
          status: 400,
          body: e.body,
          message:
            `openbao login failed: HTTP 400 (POST ${e.url}): OpenBao rejected the AppRole credentials; ` +
            "check ONBOARDING_OPENBAO_ROLE_ID and ONBOARDING_OPENBAO_SECRET_ID",
          cause: e,
        });
      }
      throw e;
    }
  }

  async function renew(current: Token): Promise<Token> {
    const url = `${base}/v1/auth/token/renew-self`;
    try {
      const res = await http.request<{ auth?: AuthBlock }>("renew token", "POST", url, {
        body: {},
        headers: { "X-Vault-Token": current.value },
      });
      const renewed = tokenFrom(res.body?.auth, "renew token", url, now());
      // Renewal is capped by the max TTL: once it no longer buys time, log in afresh next time.
      if (renewed.expiresAt - now() <= EXPIRY_MARGIN_MS) return await login();
      return renewed;
    } catch (e) {
      if (e instanceof IntegrationError && e.status !== 0 && !e.transient) return await login();
      throw e;
    }
  }

  /** A usable token: logs in, or renews past 2/3 of the lease, lazily before a call. */
  function currentToken(): Promise<Token> {
    if (pendingAuth) return pendingAuth;
    const t = token;
    const at = now();
    if (t && at < t.renewAt && at < t.expiresAt - EXPIRY_MARGIN_MS) return Promise.resolve(t);
    const next = t && t.renewable && at < t.expiresAt - EXPIRY_MARGIN_MS ? renew(t) : login();
    pendingAuth = next.then((fresh) => {
      token = fresh;
      return fresh;
    }).finally(() => {
      pendingAuth = null;
    });
    return pendingAuth;
  }

  /** One authenticated call; a 403 "permission denied" (expired or revoked token) logs in again
   * and repeats the call once. */
  async function call<T>(
    operation: string,
    method: string,
    url: string,
    opts: RequestOptions = {},
  ): Promise<HttpResponse<T>> {
    const accept = [...(opts.accept ?? []), 403];
    for (let attempt = 1;; attempt++) {
      // After a 403 the dead token is dropped, so this logs in (or takes a fresher token).
      const t = await currentToken();
      const res = await http.request<T>(operation, method, url, {
        ...opts,
        accept,
        headers: { ...opts.headers, "X-Vault-Token": t.value },
      });
      if (res.status !== 403) return res;
      if (attempt === 1 && isPermissionDenied(res.body)) {
        if (token === t) token = null;
        continue;
      }
      throw new IntegrationError({
        integration: "openbao",
        operation,
        method,
        url: redactUrl(url),
        status: 403,
        body: res.body,
        message: `openbao ${operation} failed: HTTP 403 (${method} ${redactUrl(url)}): ` +
          "permission denied; check the AppRole's policies for the mount " + mount,
      });
    }
  }

  return {
    health: () => checkHealth(http, base),
    ...kvOperations({ base, mount, call, inFlight, secrets }),
  };
}

function tokenFrom(
  auth: AuthBlock | undefined,
  operation: string,
  url: string,
  at: number,
): Token {
  if (!auth?.client_token) {
    throw new IntegrationError({
      integration: "openbao",
      operation,
      method: "POST",
      url: redactUrl(url),
      status: 200,
      message: `openbao ${operation} failed: the answer carried no token (POST ${redactUrl(url)})`,
    });
  }
  const lease = (auth.lease_duration ?? 0) * 1000;
  return {
    value: auth.client_token,
    // lease 0 = a token without TTL (e.g. a root token): never renewed, never expires locally.
    renewAt: lease > 0 ? at + (lease * 2) / 3 : Infinity,
    expiresAt: lease > 0 ? at + lease : Infinity,
    renewable: auth.renewable ?? false,
  };
}

/** GET /v1/sys/health: the state, or an IntegrationError naming what to do. */
async function checkHealth(http: HttpClient, base: string) {
  const url = `${base}/v1/sys/health`;
  // 429 (standby), 501 (uninitialised) and 503 (sealed) are answers, not blips to retry.
  const res = await http.request<Record<string, unknown>>("health", "GET", url, {
    accept: [429, 472, 473, 501, 503],
  });
  const b = res.body;
  const state = b && typeof b === "object" && typeof b.sealed === "boolean"
    ? {
      initialized: b.initialized === true,
      sealed: b.sealed === true,
      standby: b.standby === true,
    }
    : null;
  const problem = !state
    ? `HTTP ${res.status} without a health report`
    : !state.initialized
    ? "OpenBao is not initialised: run bao operator init"
    : state.sealed
    ? "OpenBao is sealed: unseal it (bao operator unseal) and retry"
    : null;
  if (problem || !state) {
    throw new IntegrationError({
      integration: "openbao",
      operation: "health",
      method: "GET",
      url: redactUrl(url),
      status: res.status,
      body: b,
      message: `openbao health failed: ${problem} (GET ${redactUrl(url)})`,
    });
  }
  return state;
}

/** The KV v2 operations, through `call` (authenticated, with one re-login on a 403). */
function kvOperations(kv: KvContext): Omit<OpenBaoClient, "health"> {
  const { base, mount, call, inFlight, secrets } = kv;
  function dataUrl(kind: "data" | "metadata" | "delete", path: string): string {
    const clean = path.replace(/^\/+|\/+$/g, "");
    if (!clean || clean.split("/").some((s) => s === "" || s === "." || s === "..")) {
      throw new TypeError(`Not a usable secret path: "${path}"`);
    }
    return `${base}/v1/${mount}/${kind}/${clean.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** Latest version, live or not: `data` null when absent or deleted, `version` the current
   * version number (0 when never written) — what a cas write must name. */
  async function readLatest(
    path: string,
  ): Promise<{ data: Record<string, string> | null; version: number }> {
    const res = await call<DataResponse>("read secret", "GET", dataUrl("data", path), {
      accept: [404],
    });
    // 404 comes as {"errors":[]} for a never-written key, or as the full envelope with
    // data.data = null and the metadata for a deleted or destroyed version. A 404 that names an
    // error (e.g. "no handler for route", a wrong mount point) is a failure, not an absent key.
    const errs = (res.body as { errors?: unknown } | null)?.errors;
    if (
      res.status === 404 && (!res.body || typeof res.body !== "object" ||
        (Array.isArray(errs) && errs.length > 0))
    ) {
      const url = redactUrl(dataUrl("data", path));
      throw new IntegrationError({
        integration: "openbao",
        operation: "read secret",
        method: "GET",
        url,
        status: 404,
        body: res.body,
        message: `openbao read secret failed: HTTP 404 (GET ${url})${
          summarizeBody(res.body, secrets())
        }; check ONBOARDING_OPENBAO_MOUNT_POINT (${mount}) and the URL`,
      });
    }
    const meta = res.body?.data?.metadata;
    const version = typeof meta?.version === "number" ? meta.version : 0;
    const data = res.status === 200 ? res.body?.data?.data : null;
    return { data: data ? stringValues(data) : null, version };
  }

  async function write(
    path: string,
    data: Record<string, string>,
    cas?: number,
  ): Promise<{ version: number }> {
    const values = Object.values(data).filter((v) => v.length >= 3);
    for (const v of values) inFlight.set(v, (inFlight.get(v) ?? 0) + 1);
    try {
      const body: Record<string, unknown> = { data };
      if (cas !== undefined) body.options = { cas };
      const res = await call<DataResponse>("write secret", "POST", dataUrl("data", path), { body });
      const version = res.body?.data?.version;
      if (typeof version !== "number") {
        throw new IntegrationError({
          integration: "openbao",
          operation: "write secret",
          method: "POST",
          url: redactUrl(dataUrl("data", path)),
          status: res.status,
          message: "openbao write secret failed: the answer carried no version " +
            `(POST ${redactUrl(dataUrl("data", path))}); is ${mount} a KV version 2 mount?`,
        });
      }
      return { version };
    } finally {
      for (const v of values) {
        const n = (inFlight.get(v) ?? 1) - 1;
        if (n <= 0) inFlight.delete(v);
        else inFlight.set(v, n);
      }
    }
  }

  return {
    async readSecret(path) {
      const latest = await readLatest(path);
      return latest.data ? { data: latest.data, version: latest.version } : null;
    },

    writeSecret(path, data, options = {}) {
      return write(path, data, options.cas);
    },

    async putIfChanged(path, data) {
      // A new key (the usual case: a new device) is one write: cas 0 creates only when the key
      // does not exist. A cas mismatch says it exists; then read, compare and write over it.
      try {
        const { version } = await write(path, data, 0);
        return { version, changed: true };
      } catch (e) {
        if (!isCasMismatch(e)) throw e;
      }
      for (let attempt = 1;; attempt++) {
        const current = await readLatest(path);
        if (current.data && sameData(current.data, data)) {
          return { version: current.version, changed: false };
        }
        try {
          const { version } = await write(path, data, current.version);
          return { version, changed: true };
        } catch (e) {
          // Someone wrote in between: compare again against what is there now, once.
          if (attempt === 1 && isCasMismatch(e)) continue;
          throw e;
        }
      }
    },

    async readVersion(path, version) {
      const url = `${dataUrl("data", path)}?version=${version}`;
      const res = await call<DataResponse>("read secret version", "GET", url, { accept: [404] });
      const data = res.status === 200 ? res.body?.data?.data : null;
      return data ? { data: stringValues(data), version } : null;
    },

    async readMetadata(path) {
      const res = await call<{ data?: Record<string, unknown> | null }>(
        "read metadata",
        "GET",
        dataUrl("metadata", path),
        { accept: [404] },
      );
      const d = res.status === 200 ? res.body?.data : null;
      if (!d) return null;
      const custom = d.custom_metadata && typeof d.custom_metadata === "object"
        ? stringValues(d.custom_metadata as Record<string, unknown>)
        : {};
      return { currentVersion: Number(d.current_version ?? 0), customMetadata: custom };
    },

    async writeMetadata(path, customMetadata) {
      await call("write metadata", "POST", dataUrl("metadata", path), {
        body: { custom_metadata: customMetadata },
      });
    },

    async deleteSecret(path) {
      // OpenBao answers 204 for an absent key too; a 404 can only be a route error.
      await call("delete secret", "DELETE", dataUrl("data", path));
    },
  };
}

function isPermissionDenied(body: unknown): boolean {
  const errors = (body as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) && errors.some((e) => String(e).includes("permission denied"));
}

function isCasMismatch(e: unknown): boolean {
  return e instanceof IntegrationError && e.status === 400 &&
    JSON.stringify(e.body ?? "").includes("check-and-set parameter did not match");
}

function stringValues(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

/** Same keys and same values, in any order. */
function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length &&
    ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}
