/** The Netbox API over the shared HTTP layer, the client's short-lived caches, shared lookups. */
import { createHttpClient, DEFAULT_RETRY, isTransientFailure, retryTransient } from "../http.ts";
import { Conflict } from "../../domain/errors.ts";
import type { NetboxDevice, NetboxIp, NetboxSettings } from "./types.ts";
import {
  type ApiDevice,
  type ApiDeviceType,
  type ApiInterface,
  type ApiIp,
  type ApiMac,
  asId,
  hasMacObjects,
  INTERFACE_HINT_MS,
  type Page,
  PAGE_SIZE,
  toDevice,
  toIp,
  TYPE_HEIGHT_MS,
} from "./wire.ts";

/** The Netbox API over the shared HTTP layer: auth header, paging, lookups, checked creates. */
export function createNetboxApi(settings: NetboxSettings) {
  // Accept the base URL with or without /api and trailing slashes.
  const base = settings.url.replace(/\/+$/, "").replace(/\/api$/, "");
  const token = settings.token;
  const policy = { ...DEFAULT_RETRY, ...settings.retry };
  const http = createHttpClient({
    integration: "netbox",
    fetch: settings.fetch,
    timeoutMs: settings.timeoutMs,
    retry: settings.retry,
    metrics: settings.metrics,
    secrets: () => [token],
  });
  const headers = {
    authorization: token.startsWith("nbt_") ? `Bearer ${token}` : `Token ${token}`,
  };
  const api = (path: string) => `${base}/api/${path.replace(/^\/+/, "").replace(/\/?$/, "/")}`;
  type Query = Record<string, string | number | boolean | undefined>;

  async function get<T>(operation: string, path: string, query?: Query): Promise<T> {
    return (await http.request<T>(operation, "GET", api(path), { headers, query })).body;
  }

  async function send<T>(
    operation: string,
    method: "POST" | "PATCH",
    path: string,
    body: unknown,
    retry = true,
  ): Promise<T> {
    return (await http.request<T>(operation, method, api(path), { headers, body, retry })).body;
  }

  async function remove(operation: string, path: string): Promise<void> {
    await http.request(operation, "DELETE", api(path), { headers, accept: [404] });
  }

  /** Every page of a list endpoint, following `next` (its query only: the host may be a proxy's). */
  async function list<T>(operation: string, path: string, query: Query = {}): Promise<T[]> {
    const out: T[] = [];
    let q: Query = { ...query, limit: PAGE_SIZE };
    for (;;) {
      const page = await get<Page<T>>(operation, path, q);
      out.push(...page.results);
      if (!page.next || page.results.length === 0) return out;
      const next = new URL(page.next);
      q = {};
      for (const [k, v] of next.searchParams) q[k] = v;
    }
  }

  /** A list query that repeats a parameter (`?id=1&id=2`), which `query` cannot express. */
  function withRepeated(path: string, key: string, values: (string | number)[]): string {
    const search = new URLSearchParams(values.map((v) => [key, String(v)]));
    return `${api(path)}?${search}`;
  }

  /** One match or null; several matches is a question only the caller can answer. */
  function single<T extends { id: number }>(
    what: string,
    ref: string | number,
    found: T[],
  ): T | null {
    if (found.length <= 1) return found[0] ?? null;
    throw new Conflict(
      `${what} "${ref}" matches ${found.length} objects in Netbox (ids ${
        found.map((f) => f.id).join(", ")
      }): use the id`,
    );
  }

  /** Resolves id → slug → case-insensitive name within the given scope. */
  async function findNamed<T extends { id: number }>(
    operation: string,
    path: string,
    ref: string | number,
    scope: Query,
    nameField = "name",
  ): Promise<T | null> {
    const id = asId(ref);
    if (id !== null) {
      const byId = await list<T>(operation, path, { ...scope, id });
      if (byId.length) return byId[0];
    }
    const text = String(ref).trim();
    if (!text) return null;
    const bySlug = await list<T>(operation, path, { ...scope, slug: text });
    if (bySlug.length) return single(operation, text, bySlug);
    const byName = await list<T>(operation, path, { ...scope, [`${nameField}__ie`]: text });
    return single(operation, text, byName);
  }

  /**
   * POST that must not be repeated blindly: after a lost or 5xx answer, `recheck` looks for what
   * the request may have created before trying again. `post` sends it another way than alone.
   */
  async function createChecked<T>(
    operation: string,
    path: string,
    body: unknown,
    recheck: () => Promise<T | null>,
    post: () => Promise<T> = () => send<T>(operation, "POST", path, body, false),
  ): Promise<{ created: boolean; value: T }> {
    return await retryTransient(policy, isTransientFailure, async (attempt) => {
      if (attempt > 1) {
        const existing = await recheck();
        if (existing !== null) return { created: false, value: existing };
      }
      return { created: true, value: await post() };
    });
  }
  return {
    http,
    headers,
    api,
    get,
    send,
    remove,
    list,
    withRepeated,
    single,
    findNamed,
    createChecked,
  };
}

/** What this client remembers for a short while (advisory: Netbox decides). */
export function createNetboxCaches() {
  /**
   * The interface as `ensureBmcInterface` just received it (with `created` when this client made
   * it), so that `setInterfaceMac` right after does not read it again. Used once, for a short
   * time; every `ensureBmcInterface` call replaces it.
   */
  const interfaceHints = new Map<number, { at: number; iface: ApiInterface; created: boolean }>();

  /**
   * Device type heights seen lately (by id), for the occupancy check: registrations into the same
   * racks need not ask for the same types each time. Advisory only: Netbox itself refuses a
   * device on occupied units when it is created.
   */
  const typeHeights = new Map<number, { at: number; uHeight: number }>();

  /**
   * Interfaces this client created a moment ago: they hold no IP yet, so the first `allocateIp`
   * on one posts straight away (a lost answer is still re-checked before posting again).
   */
  const freshInterfaces = new Map<number, number>();

  function rememberTypes(types: ApiDeviceType[]): void {
    const at = Date.now();
    for (const t of types) typeHeights.set(t.id, { at, uHeight: Number(t.u_height) });
  }

  function knownHeight(typeId: number): number | undefined {
    const h = typeHeights.get(typeId);
    return h && Date.now() - h.at <= TYPE_HEIGHT_MS ? h.uHeight : undefined;
  }

  function rememberInterface(iface: ApiInterface, created: boolean): void {
    const at = Date.now();
    for (const [id, h] of interfaceHints) {
      if (at - h.at > INTERFACE_HINT_MS) interfaceHints.delete(id);
    }
    interfaceHints.set(iface.id, { at, iface, created });
  }

  function takeInterfaceHint(id: number): { iface: ApiInterface; created: boolean } | null {
    const hint = interfaceHints.get(id);
    interfaceHints.delete(id);
    return hint && Date.now() - hint.at <= INTERFACE_HINT_MS ? hint : null;
  }
  return { rememberTypes, knownHeight, rememberInterface, takeInterfaceHint, freshInterfaces };
}

/** The client's shared core: the API, its short-lived caches, and lookups several parts use. */
export function createNetboxCore(settings: NetboxSettings) {
  const api = createNetboxApi(settings);
  const { get, list } = api;
  let statusCache: Promise<{ version: string; macObjects: boolean }> | null = null;

  async function fetchStatus(): Promise<{ version: string; macObjects: boolean }> {
    const body = await get<Record<string, unknown>>("status", "status");
    const version = String(body["netbox-version"] ?? "");
    return { version, macObjects: hasMacObjects(version) };
  }

  async function interfaceIps(interfaceId: number): Promise<NetboxIp[]> {
    const ips = await list<ApiIp>("list interface IPs", "ipam/ip-addresses", {
      interface_id: interfaceId,
    });
    return ips.map(toIp);
  }

  async function findDeviceByName(name: string, siteId?: number): Promise<NetboxDevice | null> {
    const found = await list<ApiDevice>("find device", "dcim/devices", {
      name__ie: name,
      site_id: siteId,
    });
    // Names are unique per site case-insensitively; prefer the exact spelling across sites.
    const exact = found.find((d) => d.name === name) ?? found[0];
    return exact ? toDevice(exact) : null;
  }

  async function findMacObjects(interfaceId: number, mac: string): Promise<ApiMac[]> {
    return await list<ApiMac>("find MAC address", "dcim/mac-addresses", {
      interface_id: interfaceId,
      mac_address: mac,
    });
  }

  function status(): Promise<{ version: string; macObjects: boolean }> {
    // Shared while in flight; forgotten on failure so the next call asks again.
    statusCache ??= fetchStatus().catch((e) => {
      statusCache = null;
      throw e;
    });
    return statusCache;
  }
  return {
    ...api,
    ...createNetboxCaches(),
    status,
    interfaceIps,
    findDeviceByName,
    findMacObjects,
  };
}

export type NetboxCore = ReturnType<typeof createNetboxCore>;
