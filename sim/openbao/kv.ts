/** The KV v2 mount: versions, check-and-set, soft delete and destroy, metadata and listing. */
import { readJson } from "./auth.ts";
import type { FakeSecretVersion, KeyRecord } from "./types.ts";
import { envelope, errors, iso, json, noContent, unsupported, type Vault } from "./vault.ts";

const DEFAULT_MAX_VERSIONS = 10;

/** A version's metadata; `custom_metadata` is the key's (KV v2 keeps it per key, not version). */
export function metadataOf(v: FakeSecretVersion, rec?: KeyRecord) {
  return {
    created_time: v.createdTime,
    custom_metadata: rec?.customMetadata ?? null,
    deletion_time: v.deletionTime,
    destroyed: v.destroyed,
    version: v.version,
  };
}

export function isLive(vault: Vault, v: FakeSecretVersion): boolean {
  return !v.destroyed && (v.deletionTime === "" || Date.parse(v.deletionTime) > vault.now());
}

export function effectiveMax(vault: Vault, rec: KeyRecord): number {
  return rec.maxVersions || vault.state.maxVersions || DEFAULT_MAX_VERSIONS;
}

export function readData(vault: Vault, url: URL, path: string): Response {
  const rec = vault.state.keys.get(path);
  if (!rec) return errors(404);
  const wanted = Number(url.searchParams.get("version") ?? "0");
  if (!Number.isInteger(wanted) || wanted < 0) return errors(400, "invalid version");
  const v = rec.versions.get(wanted === 0 ? rec.currentVersion : wanted);
  if (!v) return errors(404);
  if (!isLive(vault, v)) {
    // Deleted or destroyed: still a 404, but with the whole envelope and the metadata.
    return json(envelope({ data: { data: null, metadata: metadataOf(v, rec) } }), 404);
  }
  return json(
    envelope({ data: { data: structuredClone(v.data), metadata: metadataOf(v, rec) } }),
  );
}

export function checkCas(
  vault: Vault,
  rec: KeyRecord | undefined,
  options: unknown,
): Response | null {
  const cas = options && typeof options === "object" && "cas" in options
    ? (options as { cas: unknown }).cas
    : undefined;
  const required = vault.state.casRequired || (rec?.casRequired ?? false);
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
export function keyRecord(vault: Vault, path: string): KeyRecord {
  let rec = vault.state.keys.get(path);
  if (!rec) {
    rec = {
      versions: new Map(),
      currentVersion: 0,
      oldestVersion: 0,
      maxVersions: 0,
      casRequired: false,
      customMetadata: null,
      createdTime: iso(vault),
      updatedTime: iso(vault),
    };
    vault.state.keys.set(path, rec);
  }
  return rec;
}

export function storeVersion(
  vault: Vault,
  path: string,
  data: Record<string, unknown>,
): FakeSecretVersion {
  const rec = keyRecord(vault, path);
  const v: FakeSecretVersion = {
    version: rec.currentVersion + 1,
    data: structuredClone(data),
    createdTime: iso(vault),
    deletionTime: "",
    destroyed: false,
  };
  rec.versions.set(v.version, v);
  rec.currentVersion = v.version;
  rec.updatedTime = v.createdTime;
  if (rec.oldestVersion === 0) rec.oldestVersion = v.version;
  // Older versions beyond max_versions are removed for good.
  while (rec.versions.size > effectiveMax(vault, rec)) {
    rec.versions.delete(rec.oldestVersion);
    rec.oldestVersion++;
  }
  return v;
}

export async function writeData(vault: Vault, req: Request, path: string): Promise<Response> {
  const body = await readJson(req);
  if (!body) return errors(400, "failed to parse JSON input");
  if (!body.data || typeof body.data !== "object" || Array.isArray(body.data)) {
    return errors(400, "no data provided");
  }
  const rec = vault.state.keys.get(path);
  const casError = checkCas(vault, rec, body.options);
  if (casError) return casError;
  const v = storeVersion(vault, path, body.data as Record<string, unknown>);
  return json(envelope({ data: metadataOf(v) }));
}

export async function patchData(vault: Vault, req: Request, path: string): Promise<Response> {
  const type = req.headers.get("content-type") ?? "";
  if (!type.startsWith("application/merge-patch+json")) {
    return errors(415, `Unsupported Content-Type header: ${type || "none"}`);
  }
  const body = await readJson(req);
  if (!body) return errors(400, "failed to parse JSON input");
  if (!body.data || typeof body.data !== "object") return errors(400, "no data provided");
  const rec = vault.state.keys.get(path);
  const current = rec?.versions.get(rec.currentVersion);
  if (!rec || !current || !isLive(vault, current)) return errors(404);
  const casError = checkCas(vault, rec, body.options);
  if (casError) return casError;
  const merged = { ...current.data } as Record<string, unknown>;
  for (const [k, v] of Object.entries(body.data as Record<string, unknown>)) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return json(envelope({ data: metadataOf(storeVersion(vault, path, merged)) }));
}

export function softDelete(vault: Vault, path: string, versions: number[] | "latest"): void {
  const rec = vault.state.keys.get(path);
  if (!rec) return;
  const list = versions === "latest" ? [rec.currentVersion] : versions;
  for (const n of list) {
    const v = rec.versions.get(n);
    if (v && !v.destroyed && v.deletionTime === "") v.deletionTime = iso(vault);
  }
}

export async function versionsBody(req: Request): Promise<number[] | Response> {
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

export function readMetadata(vault: Vault, path: string): Response {
  const rec = vault.state.keys.get(path);
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

export function listKeys(vault: Vault, prefix: string): Response {
  const base = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  const keys = new Set<string>();
  for (const path of vault.state.keys.keys()) {
    if (!path.startsWith(base)) continue;
    const rest = path.slice(base.length);
    const slash = rest.indexOf("/");
    keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  if (keys.size === 0) return errors(404);
  return json(envelope({ data: { keys: [...keys].sort() } }));
}

export async function writeMetadata(vault: Vault, req: Request, path: string): Promise<Response> {
  const body = await readJson(req);
  if (!body) return errors(400, "failed to parse JSON input");
  const rec = keyRecord(vault, path);
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
  rec.updatedTime = iso(vault);
  return noContent();
}

export async function kv(vault: Vault, req: Request, url: URL, rest: string): Promise<Response> {
  const method = req.method;
  const slash = rest.indexOf("/");
  const op = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : decodeURIComponent(rest.slice(slash + 1));
  const list = method === "LIST" || (method === "GET" && url.searchParams.get("list") === "true");

  if (op === "config" && slash === -1) {
    if (method === "GET") {
      return json(envelope({
        data: {
          cas_required: vault.state.casRequired,
          delete_version_after: "0s",
          max_versions: vault.state.maxVersions,
        },
      }));
    }
    if (method === "POST" || method === "PUT") {
      const body = await readJson(req);
      if (!body) return errors(400, "failed to parse JSON input");
      if (typeof body.cas_required === "boolean") vault.state.casRequired = body.cas_required;
      if (typeof body.max_versions === "number") vault.state.maxVersions = body.max_versions;
      return noContent();
    }
    return unsupported();
  }
  if (op === "metadata") {
    if (list) return listKeys(vault, path);
    if (path === "") return unsupported();
    if (method === "GET") return readMetadata(vault, path);
    if (method === "POST" || method === "PUT") return await writeMetadata(vault, req, path);
    if (method === "DELETE") {
      vault.state.keys.delete(path);
      return noContent();
    }
    return unsupported();
  }
  if (path === "" || path.endsWith("/")) return unsupported();
  switch (op) {
    case "data":
      if (method === "GET") return readData(vault, url, path);
      if (method === "POST" || method === "PUT") return await writeData(vault, req, path);
      if (method === "PATCH") return await patchData(vault, req, path);
      if (method === "DELETE") {
        softDelete(vault, path, "latest");
        return noContent();
      }
      return unsupported();
    case "delete":
    case "undelete":
    case "destroy": {
      if (method !== "POST" && method !== "PUT") return unsupported();
      const versions = await versionsBody(req);
      if (versions instanceof Response) return versions;
      const rec = vault.state.keys.get(path);
      if (op === "delete") softDelete(vault, path, versions);
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
  return errors(404, `no handler for route "${vault.mountPoint}/${rest}". route entry not found.`);
}
