/** In-process OpenBao fake: AppRole login, token TTL and renewal, sys/health and one KV v2 mount,
 * with the status codes and error bodies of the real server (used by tests and the demo mode). */
import { Faults, logRequest } from "./faults.ts";

export interface FakeOpenBaoOptions {
  roleId?: string;
  secretId?: string;
  /** KV v2 mount path (may contain slashes); default `secret`. */
  mountPoint?: string;
  /** TTL of issued and renewed tokens; default 1200 s like an AppRole default. */
  tokenTtlSeconds?: number;
  /** Max TTL: renewal never extends a token past issue time + this; default 4 × TTL. */
  tokenMaxTtlSeconds?: number;
  sealed?: boolean;
  initialized?: boolean;
  standby?: boolean;
  /** Clock in ms, so tests can move time forward without waiting. */
  now?: () => number;
}

/** One stored KV v2 version. `data` is null once destroyed. */
export interface FakeSecretVersion {
  version: number;
  data: Record<string, unknown> | null;
  createdTime: string;
  /** ISO time of soft deletion, "" when live. */
  deletionTime: string;
  destroyed: boolean;
}

/** Metadata and versions of one key. */
export interface KeyRecord {
  versions: Map<number, FakeSecretVersion>;
  currentVersion: number;
  oldestVersion: number;
  maxVersions: number;
  casRequired: boolean;
  customMetadata: Record<string, string> | null;
  createdTime: string;
  updatedTime: string;
}

/** An issued token. */
export interface TokenRecord {
  token: string;
  accessor: string;
  issuedAt: number;
  expiresAt: number;
  ttlSeconds: number;
  policies: string[];
}

export interface FakeOpenBaoState {
  sealed: boolean;
  initialized: boolean;
  standby: boolean;
  tokens: Map<string, TokenRecord>;
  /** Keyed by the secret path inside the mount (e.g. `bmc/dcoa-rb06u31`). */
  keys: Map<string, KeyRecord>;
  /** Mount-wide `cas_required` (POST {mount}/config). */
  casRequired: boolean;
  /** Mount-wide `max_versions`; 0 means the server default of 10. */
  maxVersions: number;
  logins: number;
  renewals: number;
  /** Every request seen, as `METHOD /path` (query excluded), for assertions. */
  requests: string[];
}

export interface FakeOpenBao {
  handler: (req: Request) => Promise<Response>;
  faults: Faults;
  state: FakeOpenBaoState;
  roleId: string;
  secretId: string;
  mountPoint: string;
  /** All stored versions of a key, oldest first (empty when never written). */
  versions(path: string): FakeSecretVersion[];
  /** Latest live data of a key, or null when absent, deleted or destroyed. */
  latest(path: string): Record<string, unknown> | null;
  /** Invalidates every issued token, as a restart with a new storage or a revocation would. */
  revokeAllTokens(): void;
}

const DEFAULT_MAX_VERSIONS = 10;

/** Creates a fake OpenBao server. */
export function createFakeOpenBao(options: FakeOpenBaoOptions = {}): FakeOpenBao {
  const roleId = options.roleId ?? "demo-role-id";
  const secretId = options.secretId ?? "demo-secret-id";
  const mountPoint = (options.mountPoint ?? "secret").replace(/^\/+|\/+$/g, "");
  const ttl = options.tokenTtlSeconds ?? 1200;
  const maxTtl = options.tokenMaxTtlSeconds ?? ttl * 4;
  const now = options.now ?? (() => Date.now());
  const faults = new Faults();
  const state: FakeOpenBaoState = {
    sealed: options.sealed ?? false,
    initialized: options.initialized ?? true,
    standby: options.standby ?? false,
    tokens: new Map(),
    keys: new Map(),
    casRequired: false,
    maxVersions: 0,
    logins: 0,
    renewals: 0,
    requests: [],
  };

  const iso = (ms = now()) => new Date(ms).toISOString();

  function envelope(extra: Record<string, unknown>): Record<string, unknown> {
    return {
      request_id: crypto.randomUUID(),
      lease_id: "",
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: null,
      warnings: null,
      auth: null,
      ...extra,
    };
  }

  const json = (body: unknown, status = 200) => Response.json(body, { status });
  const errors = (status: number, ...messages: string[]) => json({ errors: messages }, status);
  const noContent = () => new Response(null, { status: 204 });
  const unsupported = () => errors(405, "1 error occurred:\n\t* unsupported operation\n\n");

  function issueToken(): TokenRecord {
    const t: TokenRecord = {
      token: `hvs.${randomId(24)}`,
      accessor: randomId(24),
      issuedAt: now(),
      expiresAt: now() + ttl * 1000,
      ttlSeconds: ttl,
      policies: ["default", "onboarding"],
    };
    state.tokens.set(t.token, t);
    return t;
  }

  function authBlock(t: TokenRecord): Record<string, unknown> {
    return {
      client_token: t.token,
      accessor: t.accessor,
      policies: t.policies,
      token_policies: t.policies,
      metadata: { role_name: "onboarding" },
      lease_duration: Math.max(0, Math.round((t.expiresAt - now()) / 1000)),
      renewable: true,
      entity_id: "00000000-0000-0000-0000-000000000001",
      token_type: "service",
      orphan: true,
      mfa_requirement: null,
      num_uses: 0,
    };
  }

  /** The caller's live token, or null: `X-Vault-Token` first, then `Authorization: Bearer`. */
  function tokenOf(req: Request): TokenRecord | null {
    let value = req.headers.get("x-vault-token");
    if (!value) {
      const auth = req.headers.get("authorization") ?? "";
      if (auth.startsWith("Bearer ")) value = auth.slice(7);
    }
    if (!value) return null;
    const t = state.tokens.get(value);
    if (!t) return null;
    if (t.expiresAt <= now()) {
      state.tokens.delete(value);
      return null;
    }
    return t;
  }

  async function readJson(req: Request): Promise<Record<string, unknown> | null> {
    const text = await req.text();
    if (!text.trim()) return {};
    try {
      const v = JSON.parse(text);
      return v && typeof v === "object" && !Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  }

  function health(url: URL): Response {
    const q = url.searchParams;
    const code = (name: string, fallback: number) => {
      const v = q.get(name);
      return v && /^\d+$/.test(v) ? Number(v) : fallback;
    };
    let status: number;
    if (!state.initialized) status = code("uninitcode", 501);
    else if (state.sealed) status = code("sealedcode", 503);
    else if (state.standby) {
      status = q.get("standbyok") === "true" ? code("activecode", 200) : code("standbycode", 429);
    } else status = code("activecode", 200);
    return json({
      initialized: state.initialized,
      sealed: state.sealed,
      standby: state.standby,
      performance_standby: false,
      replication_performance_mode: "disabled",
      replication_dr_mode: "disabled",
      server_time_utc: Math.floor(now() / 1000),
      version: "2.4.1",
      cluster_name: "openbao-cluster-fake",
      cluster_id: "5c6a7b2e-0000-4000-8000-000000000000",
    }, status);
  }

  async function login(req: Request): Promise<Response> {
    if (req.method !== "POST" && req.method !== "PUT") return unsupported();
    const body = await readJson(req);
    if (!body) return errors(400, "failed to parse JSON input");
    if (typeof body.role_id !== "string" || body.role_id === "") {
      return errors(400, "missing role_id");
    }
    if (typeof body.secret_id !== "string" || body.secret_id === "") {
      return errors(400, "missing secret_id");
    }
    if (body.role_id !== roleId || body.secret_id !== secretId) {
      return errors(400, "invalid role or secret ID");
    }
    state.logins++;
    return json(envelope({ auth: authBlock(issueToken()) }));
  }

  async function renewSelf(req: Request, t: TokenRecord): Promise<Response> {
    if (req.method !== "POST" && req.method !== "PUT") return unsupported();
    const body = await readJson(req);
    if (!body) return errors(400, "failed to parse JSON input");
    const increment = parseDuration(body.increment) ?? t.ttlSeconds;
    const cap = t.issuedAt + maxTtl * 1000;
    t.expiresAt = Math.min(now() + increment * 1000, cap);
    state.renewals++;
    const warnings = t.expiresAt === cap
      ? ['TTL of "' + increment + 's" exceeded the effective max_ttl; TTL value is capped']
      : null;
    return json(envelope({ auth: authBlock(t), warnings }));
  }

  function lookupSelf(req: Request, t: TokenRecord): Response {
    if (req.method !== "GET" && req.method !== "POST") return unsupported();
    return json(envelope({
      data: {
        accessor: t.accessor,
        creation_time: Math.floor(t.issuedAt / 1000),
        creation_ttl: t.ttlSeconds,
        display_name: "approle",
        entity_id: "00000000-0000-0000-0000-000000000001",
        expire_time: iso(t.expiresAt),
        explicit_max_ttl: 0,
        id: t.token,
        issue_time: iso(t.issuedAt),
        meta: { role_name: "onboarding" },
        num_uses: 0,
        orphan: true,
        path: "auth/approle/login",
        policies: t.policies,
        renewable: true,
        ttl: Math.max(0, Math.round((t.expiresAt - now()) / 1000)),
        type: "service",
      },
    }));
  }

  // ---- KV v2 ----

  /** A version's metadata; `custom_metadata` is the key's (KV v2 keeps it per key, not version). */
  function metadataOf(v: FakeSecretVersion, rec?: KeyRecord) {
    return {
      created_time: v.createdTime,
      custom_metadata: rec?.customMetadata ?? null,
      deletion_time: v.deletionTime,
      destroyed: v.destroyed,
      version: v.version,
    };
  }

  function isLive(v: FakeSecretVersion): boolean {
    return !v.destroyed && (v.deletionTime === "" || Date.parse(v.deletionTime) > now());
  }

  function effectiveMax(rec: KeyRecord): number {
    return rec.maxVersions || state.maxVersions || DEFAULT_MAX_VERSIONS;
  }

  function readData(url: URL, path: string): Response {
    const rec = state.keys.get(path);
    if (!rec) return errors(404);
    const wanted = Number(url.searchParams.get("version") ?? "0");
    if (!Number.isInteger(wanted) || wanted < 0) return errors(400, "invalid version");
    const v = rec.versions.get(wanted === 0 ? rec.currentVersion : wanted);
    if (!v) return errors(404);
    if (!isLive(v)) {
      // Deleted or destroyed: still a 404, but with the whole envelope and the metadata.
      return json(envelope({ data: { data: null, metadata: metadataOf(v, rec) } }), 404);
    }
    return json(
      envelope({ data: { data: structuredClone(v.data), metadata: metadataOf(v, rec) } }),
    );
  }

  function checkCas(
    rec: KeyRecord | undefined,
    options: unknown,
  ): Response | null {
    const cas = options && typeof options === "object" && "cas" in options
      ? (options as { cas: unknown }).cas
      : undefined;
    const required = state.casRequired || (rec?.casRequired ?? false);
    if (cas === undefined) {
      return required ? errors(400, "check-and-set parameter required for this call") : null;
    }
    if (typeof cas !== "number" || !Number.isInteger(cas) || cas < 0) {
      return errors(400, "check-and-set parameter must be a non-negative integer");
    }
    if (cas !== (rec?.currentVersion ?? 0)) {
      return errors(400, "check-and-set parameter did not match the current version");
    }
    return null;
  }

  /** The key's metadata record, created empty on first use. */
  function keyRecord(path: string): KeyRecord {
    let rec = state.keys.get(path);
    if (!rec) {
      rec = {
        versions: new Map(),
        currentVersion: 0,
        oldestVersion: 0,
        maxVersions: 0,
        casRequired: false,
        customMetadata: null,
        createdTime: iso(),
        updatedTime: iso(),
      };
      state.keys.set(path, rec);
    }
    return rec;
  }

  function storeVersion(path: string, data: Record<string, unknown>): FakeSecretVersion {
    const rec = keyRecord(path);
    const v: FakeSecretVersion = {
      version: rec.currentVersion + 1,
      data: structuredClone(data),
      createdTime: iso(),
      deletionTime: "",
      destroyed: false,
    };
    rec.versions.set(v.version, v);
    rec.currentVersion = v.version;
    rec.updatedTime = v.createdTime;
    if (rec.oldestVersion === 0) rec.oldestVersion = v.version;
    // Older versions beyond max_versions are removed for good.
    while (rec.versions.size > effectiveMax(rec)) {
      rec.versions.delete(rec.oldestVersion);
      rec.oldestVersion++;
    }
    return v;
  }

  async function writeData(req: Request, path: string): Promise<Response> {
    const body = await readJson(req);
    if (!body) return errors(400, "failed to parse JSON input");
    if (!body.data || typeof body.data !== "object" || Array.isArray(body.data)) {
      return errors(400, "no data provided");
    }
    const rec = state.keys.get(path);
    const casError = checkCas(rec, body.options);
    if (casError) return casError;
    const v = storeVersion(path, body.data as Record<string, unknown>);
    return json(envelope({ data: metadataOf(v) }));
  }

  async function patchData(req: Request, path: string): Promise<Response> {
    const type = req.headers.get("content-type") ?? "";
    if (!type.startsWith("application/merge-patch+json")) {
      return errors(415, `Unsupported Content-Type header: ${type || "none"}`);
    }
    const body = await readJson(req);
    if (!body) return errors(400, "failed to parse JSON input");
    if (!body.data || typeof body.data !== "object") return errors(400, "no data provided");
    const rec = state.keys.get(path);
    const current = rec?.versions.get(rec.currentVersion);
    if (!rec || !current || !isLive(current)) return errors(404);
    const casError = checkCas(rec, body.options);
    if (casError) return casError;
    const merged = { ...current.data } as Record<string, unknown>;
    for (const [k, v] of Object.entries(body.data as Record<string, unknown>)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    return json(envelope({ data: metadataOf(storeVersion(path, merged)) }));
  }

  function softDelete(path: string, versions: number[] | "latest"): void {
    const rec = state.keys.get(path);
    if (!rec) return;
    const list = versions === "latest" ? [rec.currentVersion] : versions;
    for (const n of list) {
      const v = rec.versions.get(n);
      if (v && !v.destroyed && v.deletionTime === "") v.deletionTime = iso();
    }
  }

  async function versionsBody(req: Request): Promise<number[] | Response> {
    const body = await readJson(req);
    if (!body) return errors(400, "failed to parse JSON input");
    const list = body.versions;
    if (!Array.isArray(list) || list.length === 0) {
      return errors(400, "no version number provided");
    }
    if (!list.every((n) => Number.isInteger(Number(n)))) {
      return errors(400, "invalid version number");
    }
    return list.map(Number);
  }

  function readMetadata(path: string): Response {
    const rec = state.keys.get(path);
    if (!rec) return errors(404);
    const versions: Record<string, unknown> = {};
    for (const v of rec.versions.values()) {
      versions[String(v.version)] = {
        created_time: v.createdTime,
        deletion_time: v.deletionTime,
        destroyed: v.destroyed,
      };
    }
    return json(envelope({
      data: {
        cas_required: rec.casRequired,
        created_time: rec.createdTime,
        current_version: rec.currentVersion,
        custom_metadata: rec.customMetadata,
        delete_version_after: "0s",
        max_versions: rec.maxVersions,
        oldest_version: rec.oldestVersion,
        updated_time: rec.updatedTime,
        versions,
      },
    }));
  }

  function listKeys(prefix: string): Response {
    const base = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
    const keys = new Set<string>();
    for (const path of state.keys.keys()) {
      if (!path.startsWith(base)) continue;
      const rest = path.slice(base.length);
      const slash = rest.indexOf("/");
      keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) return errors(404);
    return json(envelope({ data: { keys: [...keys].sort() } }));
  }

  async function writeMetadata(req: Request, path: string): Promise<Response> {
    const body = await readJson(req);
    if (!body) return errors(400, "failed to parse JSON input");
    const rec = keyRecord(path);
    if (typeof body.max_versions === "number") rec.maxVersions = body.max_versions;
    if (typeof body.cas_required === "boolean") rec.casRequired = body.cas_required;
    if (body.custom_metadata !== undefined && body.custom_metadata !== null) {
      // As KV v2: a map of strings, at most 64 keys of 128 bytes and values of 512 bytes.
      const custom = body.custom_metadata;
      if (typeof custom !== "object" || Array.isArray(custom)) {
        return errors(400, "custom_metadata must be a map of strings");
      }
      const entries = Object.entries(custom as Record<string, unknown>);
      const bad = entries.find(([k, v]) =>
        typeof v !== "string" || k.length > 128 || (v as string).length > 512
      );
      if (entries.length > 64 || bad) {
        return errors(
          400,
          `1 error occurred:\n\t* custom_metadata: ${
            bad ? `key "${bad[0]}"` : "too many keys"
          } invalid\n\n`,
        );
      }
      rec.customMetadata = custom as Record<string, string>;
    }
    rec.updatedTime = iso();
    return noContent();
  }

  async function kv(req: Request, url: URL, rest: string): Promise<Response> {
    const method = req.method;
    const slash = rest.indexOf("/");
    const op = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? "" : decodeURIComponent(rest.slice(slash + 1));
    const list = method === "LIST" || (method === "GET" && url.searchParams.get("list") === "true");

    if (op === "config" && slash === -1) {
      if (method === "GET") {
        return json(envelope({
          data: {
            cas_required: state.casRequired,
            delete_version_after: "0s",
            max_versions: state.maxVersions,
          },
        }));
      }
      if (method === "POST" || method === "PUT") {
        const body = await readJson(req);
        if (!body) return errors(400, "failed to parse JSON input");
        if (typeof body.cas_required === "boolean") state.casRequired = body.cas_required;
        if (typeof body.max_versions === "number") state.maxVersions = body.max_versions;
        return noContent();
      }
      return unsupported();
    }
    if (op === "metadata") {
      if (list) return listKeys(path);
      if (path === "") return unsupported();
      if (method === "GET") return readMetadata(path);
      if (method === "POST" || method === "PUT") return await writeMetadata(req, path);
      if (method === "DELETE") {
        state.keys.delete(path);
        return noContent();
      }
      return unsupported();
    }
    if (path === "" || path.endsWith("/")) return unsupported();
    switch (op) {
      case "data":
        if (method === "GET") return readData(url, path);
        if (method === "POST" || method === "PUT") return await writeData(req, path);
        if (method === "PATCH") return await patchData(req, path);
        if (method === "DELETE") {
          softDelete(path, "latest");
          return noContent();
        }
        return unsupported();
      case "delete":
      case "undelete":
      case "destroy": {
        if (method !== "POST" && method !== "PUT") return unsupported();
        const versions = await versionsBody(req);
        if (versions instanceof Response) return versions;
        const rec = state.keys.get(path);
        if (op === "delete") softDelete(path, versions);
        for (const n of op === "delete" ? [] : versions) {
          const v = rec?.versions.get(n);
          if (!v) continue;
          if (op === "undelete" && !v.destroyed) v.deletionTime = "";
          if (op === "destroy") {
            v.destroyed = true;
            v.data = null;
          }
        }
        return noContent();
      }
    }
    return errors(404, `no handler for route "${mountPoint}/${rest}". route entry not found.`);
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const p = url.pathname;
    if (!p.startsWith("/v1/")) return errors(404);
    const logical = p.slice(4);
    if (logical === "sys/health") {
      return req.method === "GET" || req.method === "HEAD" ? health(url) : unsupported();
    }
    if (!state.initialized) return errors(503, "Vault is not initialized");
    if (state.sealed) return errors(503, "Vault is sealed");
    if (logical === "auth/approle/login") return await login(req);

    const token = tokenOf(req);
    if (!token) return errors(403, "permission denied");
    if (logical === "auth/token/renew-self") return await renewSelf(req, token);
    if (logical === "auth/token/lookup-self") return lookupSelf(req, token);
    if (logical.startsWith(`${mountPoint}/`)) {
      return await kv(req, url, logical.slice(mountPoint.length + 1));
    }
    return errors(404, `no handler for route "${logical}". route entry not found.`);
  }

  return {
    handler: async (req: Request) => {
      const url = new URL(req.url);
      logRequest(state.requests, `${req.method} ${url.pathname}`);
      const faulted = await faults.apply(req);
      if (faulted) return faulted;
      return await route(req);
    },
    faults,
    state,
    roleId,
    secretId,
    mountPoint,
    versions: (path) => [...(state.keys.get(path)?.versions.values() ?? [])],
    latest: (path) => {
      const rec = state.keys.get(path);
      const v = rec?.versions.get(rec.currentVersion);
      return v && isLive(v) ? structuredClone(v.data) : null;
    },
    revokeAllTokens: () => state.tokens.clear(),
  };
}

/** Seconds from `3600`, `"3600"`, `"90s"`, `"30m"` or `"1h"`; null when absent or unparseable. */
function parseDuration(value: unknown): number | null {
  if (typeof value === "number" && value > 0) return value;
  if (typeof value !== "string") return null;
  const m = /^(\d+)([smh]?)$/.exec(value.trim());
  if (!m) return null;
  return Number(m[1]) * ({ "": 1, s: 1, m: 60, h: 3600 }[m[2]] ?? 1);
}

function randomId(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}
