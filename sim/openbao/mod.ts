/** In-process OpenBao fake: AppRole login, token TTL and renewal, sys/health and one KV v2 mount,
 * with the status codes and error bodies of the real server (used by tests and the demo mode). */
import { logRequest } from "../faults.ts";
import { health, login, lookupSelf, renewSelf, tokenOf } from "./auth.ts";
import { isLive, kv } from "./kv.ts";
import type { FakeOpenBao, FakeOpenBaoOptions } from "./types.ts";
import { createVault, errors, unsupported, type Vault } from "./vault.ts";

async function route(vault: Vault, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const p = url.pathname;
  if (!p.startsWith("/v1/")) return errors(404);
  const logical = p.slice(4);
  if (logical === "sys/health") {
    return req.method === "GET" || req.method === "HEAD" ? health(vault, url) : unsupported();
  }
  if (!vault.state.initialized) return errors(503, "Vault is not initialized");
  if (vault.state.sealed) return errors(503, "Vault is sealed");
  if (logical === "auth/approle/login") return await login(vault, req);

  const token = tokenOf(vault, req);
  if (!token) return errors(403, "permission denied");
  if (logical === "auth/token/renew-self") return await renewSelf(vault, req, token);
  if (logical === "auth/token/lookup-self") return lookupSelf(vault, req, token);
  if (logical.startsWith(`${vault.mountPoint}/`)) {
    return await kv(vault, req, url, logical.slice(vault.mountPoint.length + 1));
  }
  return errors(404, `no handler for route "${logical}". route entry not found.`);
}

export type * from "./types.ts";

export function createFakeOpenBao(options: FakeOpenBaoOptions = {}): FakeOpenBao {
  const vault = createVault(options);
  const { state } = vault;
  return {
    handler: async (req: Request) => {
      const url = new URL(req.url);
      logRequest(state.requests, `${req.method} ${url.pathname}`);
      const faulted = await vault.faults.apply(req);
      if (faulted) return faulted;
      return await route(vault, req);
    },
    faults: vault.faults,
    state,
    roleId: vault.roleId,
    secretId: vault.secretId,
    mountPoint: vault.mountPoint,
    versions: (path) => [...(state.keys.get(path)?.versions.values() ?? [])],
    latest: (path) => {
      const rec = state.keys.get(path);
      const v = rec?.versions.get(rec.currentVersion);
      return v && isLive(vault, v) ? structuredClone(v.data) : null;
    },
    revokeAllTokens: () => state.tokens.clear(),
  };
}
