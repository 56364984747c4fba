/**
 * Netbox client: reference lookups, device/BMC interface/MAC/IP registration and undo, for both
 * MAC models (interface field before 4.2, `dcim.MACAddress` objects from 4.2).
 */
import {
  createHttpClient,
  DEFAULT_RETRY,
  IntegrationError,
  isTransientFailure,
  type RetryPolicy,
  retryTransient,
} from "./http.ts";
import type { Metrics } from "../observability/metrics.ts";
import { Conflict } from "../domain/errors.ts";
import { canonicalMac } from "../domain/mac.ts";
import { ipInPrefix } from "../domain/ipv4.ts";

export interface NetboxSettings {
  url: string;
  token: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  metrics?: Metrics;
}
export interface NetboxRef {
  id: number;
  name: string;
  slug?: string;
}
export interface NetboxRack extends NetboxRef {
  u_height: number;
  site_id: number;
  location_id: number | null;
}
export interface NetboxDeviceType extends NetboxRef {
  u_height: number;
  model: string;
  manufacturer: string;
}
export interface NetboxPrefix {
  id: number;
  prefix: string;
  description: string;
  /** The prefix's IPAM role (`ipam.Role`), e.g. BMC, or null. */
  role: NetboxRef | null;
}
export interface NetboxDevice {
  id: number;
  name: string;
  status: string;
  site_id: number;
  rack_id: number | null;
  position: number | null;
  oob_ip_id: number | null;
  tenant_id: number | null;
}
/** A device as the inventory list shows it: where it is, what it is, its status and BMC IP. */
export interface InventoryDevice {
  id: number;
  name: string;
  status: string;
  site: NetboxRef | null;
  location: NetboxRef | null;
  rack: NetboxRef | null;
  position: number | null;
  device_type: NetboxRef | null;
  role: NetboxRef | null;
  /** The device's OOB (BMC) IP, without its mask. */
  bmc_ip: string | null;
}
export interface RackDevice {
  id: number;
  name: string;
  position: number | null;
  u_height: number;
}
export interface BmcInterface {
  id: number;
  device_id: number;
  device_name: string;
  /** Lower-case colon form, or null without one. */
  mac: string | null;
}
export interface NetboxIp {
  id: number;
  /** CIDR form, e.g. 10.16.28.31/24. */
  address: string;
  interface_id: number | null;
}

export type NetboxDeviceStatus = "planned" | "staged" | "active" | "decommissioning" | "offline";

/** The calls the registration engine, reference API and readiness check make to Netbox. */
export interface NetboxClient {
  /** GET /api/status/, cached after first success. macObjects = version >= 4.2 */
  status(): Promise<{ version: string; macObjects: boolean }>;
  listSites(): Promise<NetboxRef[]>;
  listLocations(siteId?: number): Promise<NetboxRef[]>;
  listRacks(filter?: { siteId?: number; locationId?: number }): Promise<NetboxRack[]>;
  listDeviceTypes(): Promise<NetboxDeviceType[]>;
  listDeviceRoles(): Promise<NetboxRef[]>;
  listTenants(): Promise<NetboxRef[]>;
  listPrefixes(): Promise<NetboxPrefix[]>;
  /** Resolve a reference given as numeric id, slug or name (case-insensitive name) → object or null. */
  findSite(ref: string | number): Promise<NetboxRef | null>;
  findLocation(ref: string | number, siteId: number): Promise<NetboxRef | null>;
  findRack(
    ref: string | number,
    filter: { siteId: number; locationId?: number },
  ): Promise<NetboxRack | null>;
  findDeviceType(ref: string | number): Promise<NetboxDeviceType | null>;
  findDeviceRole(ref: string | number): Promise<NetboxRef | null>;
  findTenant(ref: string | number): Promise<NetboxRef | null>;
  /** By id or by CIDR string (prefix=10.16.28.0/24). */
  findPrefix(ref: string | number): Promise<NetboxPrefix | null>;
  /** Devices in a rack with their heights (device type u_height), for occupancy. */
  rackDevices(rackId: number): Promise<RackDevice[]>;
  findDeviceByName(name: string, siteId?: number): Promise<NetboxDevice | null>;
  /**
   * Every device of the given roles and sites (slugs or ids; none given = all), following
   * Netbox's pages (`limit`/`offset`, `next`), for the inventory list.
   */
  listDevices(filter?: { roles?: string[]; sites?: string[] }): Promise<InventoryDevice[]>;
  /** Every interface named `bmc` with its device and MAC, all pages (the drift check). */
  bmcInterfaces(): Promise<BmcInterface[]>;
  /** Every IP address inside the prefix with what it is assigned to, all pages (the drift check). */
  ipsIn(prefix: string): Promise<NetboxIp[]>;
  /** Puts a device back where the service created it (a forced drift repair). */
  updateDevice(
    id: number,
    input: { name: string; siteId: number; locationId: number; rackId: number; position: number },
  ): Promise<void>;
  /** Devices that have an interface with this MAC (works for both MAC models). */
  findDevicesByMac(mac: string): Promise<{ id: number; name: string }[]>;
  /** Creates the device with status planned, face front. */
  createDevice(input: {
    name: string;
    siteId: number;
    locationId: number;
    rackId: number;
    position: number;
    deviceTypeId: number;
    roleId: number;
    tenantId?: number;
  }): Promise<NetboxDevice>;
  /** Finds interface "bmc" on the device or creates it (type 1000base-t, mgmt_only true). */
  ensureBmcInterface(deviceId: number): Promise<{ id: number }>;
  /** Puts the MAC on the interface the way the running version wants; idempotent (no duplicate MAC objects). */
  setInterfaceMac(interfaceId: number, mac: string): Promise<{ macId: number | null }>;
  /** IPs assigned to the interface. */
  interfaceIps(interfaceId: number): Promise<NetboxIp[]>;
  /**
   * Next free IP of the prefix, assigned to the interface in the same call; returns the interface's
   * existing IP inside the prefix instead when it has one. A lost response is never blindly
   * repeated (that could allocate twice): the interface's IPs are checked first.
   */
  allocateIp(
    prefixId: number,
    interfaceId: number,
    opts?: { dnsName?: string; description?: string; tenantId?: number },
  ): Promise<NetboxIp>;
  /**
   * Uses a given address: finds it in IPAM (any mask) and assigns it to the interface, or creates it
   * (mask from the containing prefix, else /32) with the tenant. Throws `Conflict` naming the other
   * device when it is assigned elsewhere. An address found unassigned keeps its own tenant.
   */
  assignIp(address: string, interfaceId: number, opts?: { tenantId?: number }): Promise<NetboxIp>;
  setOobIp(deviceId: number, ipId: number): Promise<void>;
  setDeviceStatus(deviceId: number, status: NetboxDeviceStatus): Promise<void>;
  /** Deletes; a 404 counts as already gone. */
  deleteDevice(id: number): Promise<void>;
  deleteIp(id: number): Promise<void>;
  deleteMac(id: number): Promise<void>;
  deleteInterface(id: number): Promise<void>;
  /** Cheap reachability + auth check for /readyz. */
  health(): Promise<void>;
}

/** The interface name the BMC gets on every registered device. */
export const BMC_INTERFACE_NAME = "bmc";
const PAGE_SIZE = 1000;
/** How long what `ensureBmcInterface` saw of an interface may stand in for reading it again. */
const INTERFACE_HINT_MS = 30_000;
/** How long a device type's height, once seen, stands in for asking again in `rackDevices`. */
const TYPE_HEIGHT_MS = 60_000;

// Shapes of the Netbox JSON we read (only the fields used).
interface Nested {
  id: number;
  name?: string | null;
  slug?: string;
}
interface Page<T> {
  count: number | null;
  next: string | null;
  results: T[];
}
interface ApiNamed {
  id: number;
  name: string;
  slug?: string;
}
interface ApiRack {
  id: number;
  name: string;
  u_height: number;
  site: Nested;
  location: Nested | null;
}
interface ApiDeviceType {
  id: number;
  model: string;
  slug: string;
  u_height: number;
  manufacturer: Nested;
}
interface ApiPrefix {
  id: number;
  prefix: string;
  description: string;
  role?: Nested | null;
}
interface ApiDevice {
  id: number;
  name: string | null;
  status: { value: string } | string;
  site: Nested;
  location?: Nested | null;
  rack: Nested | null;
  position: number | null;
  oob_ip: (Nested & { address?: string }) | null;
  tenant: Nested | null;
  device_type: Nested & { model?: string };
  role?: Nested | null;
}
interface ApiInterface {
  id: number;
  name: string;
  device: Nested;
  mac_address: string | null;
  primary_mac_address?: { id: number; mac_address: string } | null;
}
interface ApiMac {
  id: number;
  mac_address: string;
  assigned_object_type: string | null;
  assigned_object_id: number | null;
}
interface ApiIp {
  id: number;
  address: string;
  assigned_object_type: string | null;
  assigned_object_id: number | null;
  assigned_object?: { name?: string; device?: Nested | null } | null;
}

const toRef = (o: ApiNamed): NetboxRef => ({ id: o.id, name: o.name, slug: o.slug });
const toRack = (o: ApiRack): NetboxRack => ({
  id: o.id,
  name: o.name,
  u_height: Number(o.u_height),
  site_id: o.site.id,
  location_id: o.location?.id ?? null,
});
const toDeviceType = (o: ApiDeviceType): NetboxDeviceType => ({
  id: o.id,
  name: o.model,
  slug: o.slug,
  model: o.model,
  u_height: Number(o.u_height),
  manufacturer: o.manufacturer?.name ?? "",
});
const toPrefix = (o: ApiPrefix): NetboxPrefix => ({
  id: o.id,
  prefix: o.prefix,
  description: o.description ?? "",
  role: o.role ? { id: o.role.id, name: o.role.name ?? "", slug: o.role.slug } : null,
});
const toDevice = (o: ApiDevice): NetboxDevice => ({
  id: o.id,
  name: o.name ?? "",
  status: typeof o.status === "string" ? o.status : o.status?.value,
  site_id: o.site.id,
  rack_id: o.rack?.id ?? null,
  position: o.position == null ? null : Number(o.position),
  oob_ip_id: o.oob_ip?.id ?? null,
  tenant_id: o.tenant?.id ?? null,
});
const nestedRef = (o: Nested | null | undefined, name = o?.name): NetboxRef | null =>
  o ? { id: o.id, name: name ?? String(o.id), ...(o.slug ? { slug: o.slug } : {}) } : null;
const toInventoryDevice = (o: ApiDevice): InventoryDevice => ({
  id: o.id,
  name: o.name ?? `Unnamed device (${o.id})`,
  status: typeof o.status === "string" ? o.status : o.status?.value,
  site: nestedRef(o.site),
  location: nestedRef(o.location),
  rack: nestedRef(o.rack),
  position: o.position == null ? null : Number(o.position),
  device_type: nestedRef(o.device_type, o.device_type?.model ?? undefined),
  role: nestedRef(o.role),
  bmc_ip: o.oob_ip?.address?.split("/")[0] ?? null,
});
const toIp = (o: ApiIp): NetboxIp => ({
  id: o.id,
  address: o.address,
  interface_id: o.assigned_object_type === "dcim.interface" ? o.assigned_object_id : null,
});

/** `4.3.1`, `v4.2.0-Docker-3.1` → true from 4.2 on. */
function hasMacObjects(version: string): boolean {
  const m = /(\d+)\.(\d+)/.exec(version);
  if (!m) return true;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 4 || (major === 4 && minor >= 2);
}

/** A reference that is an id: a number, or a string of digits. */
function asId(ref: string | number): number | null {
  if (typeof ref === "number") return Number.isInteger(ref) ? ref : null;
  return /^\d+$/.test(ref.trim()) ? Number(ref.trim()) : null;
}

function sameMac(a: string | null | undefined, b: string): boolean {
  return !!a && a.toLowerCase() === b.toLowerCase();
}

/** Builds the Netbox client; every call goes through the shared HTTP layer. */
export function createNetboxClient(settings: NetboxSettings): NetboxClient {
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
   * the request may have created before trying again.
   */
  async function createChecked<T>(
    operation: string,
    path: string,
    body: unknown,
    recheck: () => Promise<T | null>,
  ): Promise<{ created: boolean; value: T }> {
    return await retryTransient(policy, isTransientFailure, async (attempt) => {
      if (attempt > 1) {
        const existing = await recheck();
        if (existing !== null) return { created: false, value: existing };
      }
      return { created: true, value: await send<T>(operation, "POST", path, body, false) };
    });
  }

  let statusCache: Promise<{ version: string; macObjects: boolean }> | null = null;

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
    status,

    async listSites() {
      return (await list<ApiNamed>("list sites", "dcim/sites")).map(toRef);
    },
    async listLocations(siteId) {
      return (await list<ApiNamed>("list locations", "dcim/locations", { site_id: siteId })).map(
        toRef,
      );
    },
    async listRacks(filter = {}) {
      const racks = await list<ApiRack>("list racks", "dcim/racks", {
        site_id: filter.siteId,
        location_id: filter.locationId,
      });
      return racks.map(toRack);
    },
    async listDeviceTypes() {
      const types = await list<ApiDeviceType>("list device types", "dcim/device-types");
      rememberTypes(types);
      return types.map(toDeviceType);
    },
    async listDeviceRoles() {
      return (await list<ApiNamed>("list device roles", "dcim/device-roles")).map(toRef);
    },
    async listTenants() {
      return (await list<ApiNamed>("list tenants", "tenancy/tenants")).map(toRef);
    },
    async listPrefixes() {
      return (await list<ApiPrefix>("list prefixes", "ipam/prefixes")).map(toPrefix);
    },

    async findSite(ref) {
      const o = await findNamed<ApiNamed>("find site", "dcim/sites", ref, {});
      return o && toRef(o);
    },
    async findLocation(ref, siteId) {
      const o = await findNamed<ApiNamed>("find location", "dcim/locations", ref, {
        site_id: siteId,
      });
      return o && toRef(o);
    },
    async findRack(ref, filter) {
      // Racks have no slug: id, then case-insensitive name in the site (and location).
      const scope = { site_id: filter.siteId, location_id: filter.locationId };
      const id = asId(ref);
      if (id !== null) {
        const byId = await list<ApiRack>("find rack", "dcim/racks", { ...scope, id });
        if (byId.length) return toRack(byId[0]);
      }
      const text = String(ref).trim();
      if (!text) return null;
      const byName = await list<ApiRack>("find rack", "dcim/racks", { ...scope, name__ie: text });
      const o = single("Rack", text, byName);
      return o && toRack(o);
    },
    async findDeviceType(ref) {
      const o = await findNamed<ApiDeviceType>(
        "find device type",
        "dcim/device-types",
        ref,
        {},
        "model",
      );
      if (o) rememberTypes([o]);
      return o && toDeviceType(o);
    },
    async findDeviceRole(ref) {
      const o = await findNamed<ApiNamed>("find device role", "dcim/device-roles", ref, {});
      return o && toRef(o);
    },
    async findTenant(ref) {
      const o = await findNamed<ApiNamed>("find tenant", "tenancy/tenants", ref, {});
      return o && toRef(o);
    },
    async findPrefix(ref) {
      const id = asId(ref);
      const found = id !== null
        ? await list<ApiPrefix>("find prefix", "ipam/prefixes", { id })
        : await list<ApiPrefix>("find prefix", "ipam/prefixes", { prefix: String(ref).trim() });
      return found[0] ? toPrefix(found[0]) : null;
    },

    async rackDevices(rackId) {
      const devices = await list<ApiDevice>("list rack devices", "dcim/devices", {
        rack_id: rackId,
      });
      const heights = new Map<number, number>();
      const typeIds: number[] = [];
      for (const id of new Set(devices.map((d) => d.device_type.id))) {
        const known = knownHeight(id);
        if (known === undefined) typeIds.push(id);
        else heights.set(id, known);
      }
      // One call for all the types (?id=1&id=2), a page of 1000 at most.
      for (let i = 0; i < typeIds.length; i += PAGE_SIZE) {
        const chunk = typeIds.slice(i, i + PAGE_SIZE);
        const url = withRepeated("dcim/device-types", "id", chunk);
        const page = await http.request<Page<ApiDeviceType>>("list device types", "GET", url, {
          headers,
          query: { limit: PAGE_SIZE },
        });
        rememberTypes(page.body.results);
        for (const t of page.body.results) heights.set(t.id, Number(t.u_height));
      }
      return devices.map((d) => ({
        id: d.id,
        name: d.name ?? "",
        position: d.position == null ? null : Number(d.position),
        u_height: heights.get(d.device_type.id) ?? 1,
      }));
    },

    findDeviceByName,

    async listDevices(filter = {}) {
      const path = "dcim/devices";
      const search = new URLSearchParams();
      // Repeated parameters select any of the values (`?role=a&role=b`); ids use the `_id` filters.
      for (const role of filter.roles ?? []) {
        search.append(asId(role) !== null ? "role_id" : "role", role);
      }
      for (const site of filter.sites ?? []) {
        search.append(asId(site) !== null ? "site_id" : "site", site);
      }
      search.set("limit", String(PAGE_SIZE));
      // Only what the list shows, so thousands of devices stay a few quick pages (4.0+; older
      // versions ignore the parameter).
      search.set(
        "fields",
        "id,name,status,site,location,rack,position,device_type,role,oob_ip",
      );
      const out: InventoryDevice[] = [];
      let url = `${api(path)}?${search}`;
      for (;;) {
        const page = (await http.request<Page<ApiDevice>>("list devices", "GET", url, { headers }))
          .body;
        out.push(...page.results.map(toInventoryDevice));
        if (!page.next || page.results.length === 0) return out;
        // `next` keeps every repeated filter; only its query is used (the host may be a proxy's).
        url = `${api(path)}${new URL(page.next).search}`;
      }
    },

    async bmcInterfaces() {
      const found = await list<ApiInterface>("list BMC interfaces", "dcim/interfaces", {
        name: BMC_INTERFACE_NAME,
      });
      return found.map((i) => {
        const mac = i.primary_mac_address?.mac_address ?? i.mac_address;
        return {
          id: i.id,
          device_id: i.device.id,
          device_name: i.device.name ?? "",
          mac: mac ? canonicalMac(mac) ?? mac.toLowerCase() : null,
        };
      });
    },

    async ipsIn(prefix) {
      return (await list<ApiIp>("list IPs", "ipam/ip-addresses", { parent: prefix })).map(toIp);
    },

    async updateDevice(id, input) {
      await send("update device", "PATCH", `dcim/devices/${id}`, {
        name: input.name,
        site: input.siteId,
        location: input.locationId,
        rack: input.rackId,
        position: input.position,
        face: "front",
      });
    },

    async findDevicesByMac(mac) {
      const canonical = canonicalMac(mac) ?? mac;
      // The device filter joins interface MACs in both models (mac_address field or MAC objects).
      const found = await list<ApiDevice>("find devices by MAC", "dcim/devices", {
        mac_address: canonical,
      });
      return found.map((d) => ({ id: d.id, name: d.name ?? "" }));
    },

    async createDevice(input) {
      const body = {
        name: input.name,
        site: input.siteId,
        location: input.locationId,
        rack: input.rackId,
        position: input.position,
        face: "front",
        device_type: input.deviceTypeId,
        role: input.roleId,
        tenant: input.tenantId ?? null,
        status: "planned",
      };
      const { value } = await createChecked<ApiDevice | NetboxDevice>(
        "create device",
        "dcim/devices",
        body,
        async () => {
          const d = await findDeviceByName(input.name, input.siteId);
          return d && d.rack_id === input.rackId && d.position === input.position ? d : null;
        },
      );
      return "device_type" in value ? toDevice(value) : value;
    },

    async ensureBmcInterface(deviceId) {
      const find = async () => {
        const found = await list<ApiInterface>("find BMC interface", "dcim/interfaces", {
          device_id: deviceId,
          name: BMC_INTERFACE_NAME,
        });
        return found[0] ?? null;
      };
      // Create first: a new device (the usual case) has no BMC interface, so one call does. An
      // existing one (a re-run, or a device type whose template has it) makes Netbox answer 400
      // for the duplicate device + name, and then it is looked up.
      let created: { created: boolean; value: ApiInterface };
      try {
        created = await createChecked<ApiInterface>(
          "create BMC interface",
          "dcim/interfaces",
          { device: deviceId, name: BMC_INTERFACE_NAME, type: "1000base-t", mgmt_only: true },
          find,
        );
      } catch (e) {
        if (!(e instanceof IntegrationError) || e.status !== 400) throw e;
        const existing = await find();
        if (!existing) throw e;
        created = { created: false, value: existing };
      }
      rememberInterface(created.value, created.created);
      if (created.created) {
        const now = Date.now();
        for (const [id, at] of freshInterfaces) {
          if (now - at > INTERFACE_HINT_MS) freshInterfaces.delete(id);
        }
        freshInterfaces.set(created.value.id, now);
      }
      return { id: created.value.id };
    },

    async setInterfaceMac(interfaceId, mac) {
      const canonical = canonicalMac(mac);
      if (!canonical) throw new RangeError(`Not a usable MAC address: "${mac}"`);
      const hint = takeInterfaceHint(interfaceId);
      const [{ macObjects }, iface] = await Promise.all([
        status(),
        hint?.iface ?? get<ApiInterface>("get interface", `dcim/interfaces/${interfaceId}`),
      ]);
      if (!macObjects) {
        if (!sameMac(iface.mac_address, canonical)) {
          await send("set interface MAC", "PATCH", `dcim/interfaces/${interfaceId}`, {
            mac_address: canonical,
          });
        }
        return { macId: null };
      }
      const previous = iface.primary_mac_address ?? null;
      if (previous && sameMac(previous.mac_address, canonical)) return { macId: previous.id };
      const find = async () => (await findMacObjects(interfaceId, canonical))[0] ?? null;
      // An interface this client created moments ago has no MAC objects yet: nothing to reuse.
      let macObject = hint?.created ? null : await find();
      if (!macObject) {
        macObject = (await createChecked<ApiMac>("create MAC address", "dcim/mac-addresses", {
          mac_address: canonical,
          assigned_object_type: "dcim.interface",
          assigned_object_id: interfaceId,
        }, find)).value;
      }
      await send("set primary MAC", "PATCH", `dcim/interfaces/${interfaceId}`, {
        primary_mac_address: macObject.id,
      });
      // The BMC interface has one MAC: a replaced one would still match lookups by MAC.
      if (previous) await remove("delete MAC address", `dcim/mac-addresses/${previous.id}`);
      return { macId: macObject.id };
    },

    interfaceIps,

    async allocateIp(prefixId, interfaceId, opts = {}) {
      // The prefix itself is only needed when the interface already has addresses to sort out.
      let prefix: Promise<ApiPrefix> | undefined;
      const inPrefix = async () => {
        const ips = await interfaceIps(interfaceId);
        if (!ips.length) return null;
        prefix ??= get<ApiPrefix>("get prefix", `ipam/prefixes/${prefixId}`);
        const cidr = (await prefix).prefix;
        return ips.find((ip) => ipInPrefix(ip.address.split("/")[0], cidr)) ?? null;
      };
      const createdAt = freshInterfaces.get(interfaceId);
      freshInterfaces.delete(interfaceId);
      const fresh = createdAt !== undefined && Date.now() - createdAt <= INTERFACE_HINT_MS;
      const existing = fresh ? null : await inPrefix();
      if (existing) return existing;
      const body: Record<string, unknown> = {
        status: "active",
        assigned_object_type: "dcim.interface",
        assigned_object_id: interfaceId,
      };
      if (opts.dnsName) body.dns_name = opts.dnsName;
      if (opts.description) body.description = opts.description;
      if (opts.tenantId !== undefined) body.tenant = opts.tenantId;
      const { value } = await createChecked<ApiIp | NetboxIp>(
        "allocate IP",
        `ipam/prefixes/${prefixId}/available-ips`,
        body,
        inPrefix,
      );
      return "assigned_object_type" in value ? toIp(value) : value;
    },

    async assignIp(address, interfaceId, opts = {}) {
      const [host, maskText] = address.trim().split("/");
      const found = await list<ApiIp>("find IP", "ipam/ip-addresses", { address: host });
      const current = found[0];
      if (current) {
        if (current.assigned_object_type === "dcim.interface") {
          if (current.assigned_object_id === interfaceId) return toIp(current);
          const other = current.assigned_object?.device?.name ??
            `interface ${current.assigned_object_id}`;
          throw new Conflict(`Cannot use ${host}: already assigned to ${other} in Netbox`);
        }
        if (current.assigned_object_type) {
          throw new Conflict(
            `Cannot use ${host}: already assigned to a ${current.assigned_object_type} in Netbox`,
          );
        }
        const patched = await send<ApiIp>("assign IP", "PATCH", `ipam/ip-addresses/${current.id}`, {
          assigned_object_type: "dcim.interface",
          assigned_object_id: interfaceId,
        });
        return toIp(patched);
      }
      let mask = maskText;
      if (!mask) {
        const containing = await list<ApiPrefix>("find prefix", "ipam/prefixes", {
          contains: host,
        });
        const longest = containing.map((p) => Number(p.prefix.split("/")[1])).sort((a, b) => b - a);
        mask = String(longest[0] ?? 32);
      }
      const { value } = await createChecked<ApiIp | NetboxIp>(
        "create IP",
        "ipam/ip-addresses",
        {
          address: `${host}/${mask}`,
          status: "active",
          assigned_object_type: "dcim.interface",
          assigned_object_id: interfaceId,
          ...(opts.tenantId !== undefined ? { tenant: opts.tenantId } : {}),
        },
        async () =>
          (await interfaceIps(interfaceId)).find((ip) => ip.address.startsWith(`${host}/`)) ?? null,
      );
      return "assigned_object_type" in value ? toIp(value) : value;
    },

    async setOobIp(deviceId, ipId) {
      await send("set OOB IP", "PATCH", `dcim/devices/${deviceId}`, { oob_ip: ipId });
    },
    async setDeviceStatus(deviceId, status) {
      await send("set device status", "PATCH", `dcim/devices/${deviceId}`, { status });
    },

    deleteDevice: (id) => remove("delete device", `dcim/devices/${id}`),
    deleteIp: (id) => remove("delete IP", `ipam/ip-addresses/${id}`),
    deleteMac: (id) => remove("delete MAC address", `dcim/mac-addresses/${id}`),
    deleteInterface: (id) => remove("delete interface", `dcim/interfaces/${id}`),

    async health() {
      await get("health", "status");
    },
  };
}
