/** AppRole login, token issue, renewal and lookup, and sys/health. */
import type { TokenRecord } from "./types.ts";
import {
  envelope,
  errors,
  iso,
  json,
  parseDuration,
  randomId,
  unsupported,
  type Vault,
} from "./vault.ts";

export function issueToken(vault: Vault): TokenRecord {
  const t: TokenRecord = {
    token: `hvs.${randomId(24)}`,
    accessor: randomId(24),
    issuedAt: vault.now(),
    expiresAt: vault.now() + vault.ttl * 1000,
    ttlSeconds: vault.ttl,
    policies: ["default", "onboarding"],
  };
  vault.state.tokens.set(t.token, t);
  return t;
}

export function authBlock(vault: Vault, t: TokenRecord): Record<string, unknown> {
  return {
    client_token: t.token,
    accessor: t.accessor,
    policies: t.policies,
    token_policies: t.policies,
    metadata: { role_name: "onboarding" },
    lease_duration: Math.max(0, Math.round((t.expiresAt - vault.now()) / 1000)),
    renewable: true,
    entity_id: "00000000-0000-0000-0000-000000000001",
    token_type: "service",
    orphan: true,
    mfa_requirement: null,
    num_uses: 0,
  };
}

/** The caller's live token, or null: `X-Vault-Token` first, then `Authorization: Bearer`. */
export function tokenOf(vault: Vault, req: Request): TokenRecord | null {
  let value = req.headers.get("x-vault-token");
  if (!value) {
    const auth = req.headers.get("authorization") ?? "";
    if (auth.startsWith("Bearer ")) value = auth.slice(7);
  }
  if (!value) return null;
  const t = vault.state.tokens.get(value);
  if (!t) return null;
  if (t.expiresAt <= vault.now()) {
    vault.state.tokens.delete(value);
    return null;
  }
  return t;
}

export async function readJson(req: Request): Promise<Record<string, unknown> | null> {
  const text = await req.text();
  if (!text.trim()) return {};
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

export function health(vault: Vault, url: URL): Response {
  const q = url.searchParams;
  const code = (name: string, fallback: number) => {
    const v = q.get(name);
    return v && /^\d+$/.test(v) ? Number(v) : fallback;
  };
  let status: number;
  if (!vault.state.initialized) status = code("uninitcode", 501);
  else if (vault.state.sealed) status = code("sealedcode", 503);
  else if (vault.state.standby) {
    status = q.get("standbyok") === "true" ? code("activecode", 200) : code("standbycode", 429);
  } else status = code("activecode", 200);
  return json({
    initialized: vault.state.initialized,
    sealed: vault.state.sealed,
    standby: vault.state.standby,
    performance_standby: false,
    replication_performance_mode: "disabled",
    replication_dr_mode: "disabled",
    server_time_utc: Math.floor(vault.now() / 1000),
    version: "2.4.1",
    cluster_name: "openbao-cluster-fake",
    cluster_id: "5c6a7b2e-0000-4000-8000-000000000000",
  }, status);
}

export async function login(vault: Vault, req: Request): Promise<Response> {
  if (req.method !== "POST" && req.method !== "PUT") return unsupported();
  const body = await readJson(req);
  if (!body) return errors(400, "failed to parse JSON input");
  if (typeof body.role_id !== "string" || body.role_id === "") {
    return errors(400, "missing role_id");
  }
  if (typeof body.secret_id !== "string" || body.secret_id === "") {
    return errors(400, "missing secret_id");
  }
  if (body.role_id !== vault.roleId || body.secret_id !== vault.secretId) {
    return errors(400, "invalid role or secret ID");
  }
  vault.state.logins++;
  return json(envelope({ auth: authBlock(vault, issueToken(vault)) }));
}

export async function renewSelf(vault: Vault, req: Request, t: TokenRecord): Promise<Response> {
  if (req.method !== "POST" && req.method !== "PUT") return unsupported();
  const body = await readJson(req);
  if (!body) return errors(400, "failed to parse JSON input");
  const increment = parseDuration(body.increment) ?? t.ttlSeconds;
  const cap = t.issuedAt + vault.maxTtl * 1000;
  t.expiresAt = Math.min(vault.now() + increment * 1000, cap);
  vault.state.renewals++;
  const warnings = t.expiresAt === cap
    ? ['TTL of "' + increment + 's" exceeded the effective max_ttl; TTL value is capped']
    : null;
  return json(envelope({ auth: authBlock(vault, t), warnings }));
}

export function lookupSelf(vault: Vault, req: Request, t: TokenRecord): Response {
  if (req.method !== "GET" && req.method !== "POST") return unsupported();
  return json(envelope({
    data: {
      accessor: t.accessor,
      creation_time: Math.floor(t.issuedAt / 1000),
      creation_ttl: t.ttlSeconds,
      display_name: "approle",
      entity_id: "00000000-0000-0000-0000-000000000001",
      expire_time: iso(vault, t.expiresAt),
      explicit_max_ttl: 0,
      id: t.token,
      issue_time: iso(vault, t.issuedAt),
      meta: { role_name: "onboarding" },
      num_uses: 0,
      orphan: true,
      path: "auth/approle/login",
      policies: t.policies,
      renewable: true,
      ttl: Math.max(0, Math.round((t.expiresAt - vault.now()) / 1000)),
      type: "service",
    },
  }));
}
