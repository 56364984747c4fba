/**
 * The Servers list: our registrations merged with the Netbox inventory (devices of the configured
 * roles and sites) and, for devices we did not register, their BareMetalHost's provisioning state.
 * `GET /api/v1/servers` and the PWA's Servers page both read it through `listServers`.
 */
import { z } from "zod";
import type { Config } from "../domain/config.ts";
import { ValidationFailed } from "../domain/errors.ts";
import { type PublicRegistration, publicView } from "../state/events.ts";
import type { KubernetesClient } from "../integrations/kubernetes.ts";
import type { Logger } from "../observability/log.ts";
import { statusView } from "../domain/metal3.ts";
import {
  NETBOX_DEVICE_STATUSES,
  type ProvisioningState,
  type RegistrationStatus,
} from "../domain/model.ts";
import type { InventoryDevice, NetboxRef } from "../integrations/netbox.ts";
import { compareByName, type Inventory, type ReferenceData, siteFilter } from "./reference.ts";
import { listQuerySchema } from "../domain/schemas.ts";
import { keys } from "../state/keys.ts";
import type { Registration, RegistrationStore } from "../state/store.ts";

export const OUR_STATUSES: RegistrationStatus[] = [
  "queued",
  "running",
  "ok",
  "failed",
  "blocked",
  "decommissioned",
];
/** Hidden from the list unless the status filter asks for them. */
const RETIRED = ["decommissioned", "decommissioning"];
const STATUSES = [...new Set([...OUR_STATUSES, ...NETBOX_DEVICE_STATUSES])];

const ref = z.string().trim().max(100).optional();

/** `GET /servers` query: which source, the place filters (id, slug or name) and the paging. */
export const serverListQuerySchema = listQuerySchema.extend({
  source: z.enum(["all", "ours", "netbox"], { error: "One of all, ours, netbox" }).default("all"),
  status: z.enum(STATUSES, { error: `One of ${STATUSES.join(", ")}` }).optional(),
  location: ref,
  rack: ref,
  device_type: ref,
  role: ref,
});
export type ServerListQuery = z.infer<typeof serverListQuerySchema>;

/** Where a server is and what it is, from Netbox (or, until Netbox has it, from the registration). */
export interface NetboxView
  extends
    Pick<InventoryDevice, "site" | "location" | "rack" | "position" | "device_type" | "role"> {
  /** The Netbox device, when known. */
  id: number | null;
  status: string | null;
  url: string | null;
}

/** One row: a registration of ours, or a Netbox device (then `id` is its registration, if any). */
export type ServerRow =
  | (PublicRegistration & { origin: "ours"; netbox: NetboxView | null })
  | {
    origin: "netbox";
    id: string | null;
    device_name: string;
    status: string;
    bmc_ip?: string;
    provisioning?: ProvisioningState;
    netbox: NetboxView;
  };

export interface ServerListDeps {
  config: Config;
  store: RegistrationStore;
  reference?: ReferenceData;
  kubernetes?: KubernetesClient;
  log: Logger;
}

/** Cursor: which phase (our registrations first, newest first; then Netbox devices by name). */
type Cursor = { p: "ours"; c: string } | { p: "netbox"; n: string; i: number };

function encodeCursor(c: Cursor): string {
  return btoa(JSON.stringify(c)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/")));
    if (c.p === "ours" && typeof c.c === "string") return c;
    if (c.p === "netbox" && typeof c.n === "string" && Number.isInteger(c.i)) return c;
  } catch { /* reported below */ }
  throw new ValidationFailed({ cursor: "Not a cursor this list gave out" });
}

/** The Netbox object is the one written as id, slug or name (any case). */
export const sameRef = (r: NetboxRef | null, value: string) => {
  if (!r) return false;
  const v = value.toLowerCase();
  return String(r.id) === value || r.slug?.toLowerCase() === v || r.name.toLowerCase() === v;
};

/** The row passes the place, status and search filters; retired servers only when asked for. */
function matches(row: ServerRow, f: ServerListQuery): boolean {
  const n = row.netbox;
  const places: [string | undefined, NetboxRef | null | undefined][] = [
    [f.site, n?.site],
    [f.location, n?.location],
    [f.rack, n?.rack],
    [f.device_type, n?.device_type],
    [f.role, n?.role],
  ];
  if (places.some(([want, have]) => want && !sameRef(have ?? null, want))) return false;
  if (f.status) return row.status === f.status || n?.status === f.status;
  return !RETIRED.includes(row.status);
}

function netboxUrl(config: Config, id: number | null): string | null {
  if (!config.NETBOX_URL || id === null) return null;
  return `${config.NETBOX_URL.replace(/\/+$/, "").replace(/\/api$/, "")}/dcim/devices/${id}/`;
}

function viewOf(config: Config, d: InventoryDevice): NetboxView {
  return {
    id: d.id,
    status: d.status,
    url: netboxUrl(config, d.id),
    site: d.site,
    location: d.location,
    rack: d.rack,
    position: d.position,
    device_type: d.device_type,
    role: d.role,
  };
}

/** Names of device types and roles by id, for registrations the cached inventory lacks yet. */
interface TypeAndRoleNames {
  types: Map<number, string>;
  roles: Map<number, string>;
}

/** Our registration with its Netbox device's view, or what the registration itself knows. */
function ourRow(
  config: Config,
  r: Registration,
  device: InventoryDevice | undefined,
  names: TypeAndRoleNames,
): ServerRow {
  if (device) return { ...publicView(r), origin: "ours", netbox: viewOf(config, device) };
  const req = r.request;
  const res = r.resolved;
  const named = (id: number | undefined, name: unknown, slug?: string): NetboxRef | null =>
    id === undefined && (name === undefined || name === "")
      ? null
      : { id: id ?? 0, name: String(name ?? slug ?? id), ...(slug ? { slug } : {}) };
  const deviceId = r.created.netbox_device_id ?? null;
  const netbox: NetboxView | null = res || req.site !== undefined
    ? {
      id: deviceId,
      status: null,
      url: netboxUrl(config, deviceId),
      site: named(res?.siteId, res?.siteName ?? req.site, res?.siteSlug),
      location: named(res?.locationId, res?.locationName ?? req.location),
      rack: named(res?.rackId, res?.rackName ?? req.rack),
      position: req.position ?? null,
      device_type: named(
        res?.deviceTypeId,
        names.types.get(res?.deviceTypeId ?? -1) ?? req.device_type,
      ),
      role: named(res?.roleId, names.roles.get(res?.roleId ?? -1) ?? req.device_role),
    }
    : null;
  return { ...publicView(r), origin: "ours", netbox };
}

const NO_NAMES: TypeAndRoleNames = { types: new Map(), roles: new Map() };

/** BareMetalHost states by name, listed at most every few seconds (they change while provisioning). */
const HOSTS_MAX_AGE_MS = 10_000;
let hostsCache:
  | { at: number; key: unknown; states: Promise<Map<string, ProvisioningState>> }
  | null = null;

function hostStates(deps: ServerListDeps): Promise<Map<string, ProvisioningState>> {
  const { kubernetes, config } = deps;
  if (!kubernetes) return Promise.resolve(new Map());
  if (hostsCache?.key === kubernetes && Date.now() - hostsCache.at < HOSTS_MAX_AGE_MS) {
    return hostsCache.states;
  }
  const states = kubernetes.listBareMetalHosts(config.METAL3_NAMESPACE).then(({ items }) => {
    const at = new Date().toISOString();
    return new Map(
      items.map((h) => [h.metadata.name, { ...statusView(h), updatedAt: at }] as const),
    );
  });
  hostsCache = { at: Date.now(), key: kubernetes, states };
  states.catch(() => hostsCache = null);
  return states;
}

/**
 * One page of the Servers list, newest registrations first, then the Netbox devices we did not
 * register (source `all`), by name. Pages are full while rows remain; the cursor says where the
 * next one starts. Netbox trouble does not hide our registrations: it becomes a warning.
 */
export async function listServers(
  deps: ServerListDeps,
  query: ServerListQuery,
): Promise<{ items: ServerRow[]; cursor: string | null; warnings?: string[] }> {
  const { config, store, reference, log } = deps;
  const limit = query.limit ?? 50;
  const cursor = query.cursor ? decodeCursor(query.cursor) : null;
  const warnings: string[] = [];
  const items: ServerRow[] = [];

  const filter = { roles: config.INVENTORY_ROLES, sites: config.INVENTORY_SITES };
  let inventory: Inventory | null = null;
  const loadInventory = async (): Promise<Inventory> => {
    if (inventory) return inventory;
    if (!reference) return inventory = EMPTY;
    try {
      inventory = await reference.inventory(filter);
    } catch (e) {
      if (query.source === "netbox") throw e;
      log.warn("Netbox inventory unavailable for the servers list", { error: e });
      warnings.push(`Netbox devices are not shown: ${(e as Error).message}`);
      inventory = EMPTY;
    }
    return inventory;
  };

  // Phase 1: our registrations. Filters the store cannot apply are applied here, asking it for
  // no more than still fits, so its cursor never skips a row.
  if (query.source !== "netbox" && cursor?.p !== "netbox") {
    // Rows are joined with their Netbox devices from the stored inventory; while none is stored
    // (the first page after a start, at 100,000 devices minutes of Netbox pages), from Netbox for
    // this page's rows alone, the whole inventory loading behind the request.
    const stored = reference ? await reference.storedInventory(filter) : null;
    const devicesOf = async (names: string[]): Promise<Map<string, InventoryDevice>> => {
      if (stored || !reference || !names.length) return stored?.byName ?? new Map();
      try {
        const found = await reference.netbox.listDevices({ ...filter, names });
        return new Map(found.map((d) => [d.name.toLowerCase(), d]));
      } catch (e) {
        log.warn("Netbox devices unavailable for the servers list", { error: e });
        warnings.push(`Netbox devices are not shown: ${(e as Error).message}`);
        return new Map();
      }
    };
    // The store's index finds the site by id, slug or name (also for records Netbox never had).
    const site = query.site ? await siteFilter(reference, query.site) : undefined;
    const rest = { ...query, site: undefined };
    // A registration newer than the cached inventory is named from the cached types and roles.
    let names: TypeAndRoleNames | undefined;
    const typeAndRoleNames = async (): Promise<TypeAndRoleNames> => {
      if (names) return names;
      const [types, roles] = reference
        ? await Promise.all([reference.deviceTypes(), reference.deviceRoles()]).catch(
          () => [[], []],
        )
        : [[], []];
      return names = {
        types: new Map(types.map((t) => [t.id, t.name])),
        roles: new Map(roles.map((t) => [t.id, t.name])),
      };
    };
    let next: string | null | undefined = cursor?.p === "ours" ? cursor.c : undefined;
    do {
      const page = await store.list({
        limit: limit - items.length,
        cursor: next ?? undefined,
        site,
        status: OUR_STATUSES.includes(query.status as RegistrationStatus)
          ? query.status
          : undefined,
        q: query.q,
      });
      const byName = await devicesOf(page.items.map((r) => r.device_name));
      for (const r of page.items) {
        const device = byName.get(r.device_name.toLowerCase());
        const row = ourRow(config, r, device, device ? NO_NAMES : await typeAndRoleNames());
        if (matches(row, rest)) items.push(row);
      }
      next = page.cursor;
    } while (next && items.length < limit);
    if (next) return done({ p: "ours", c: next });
  }
  if (!reference && query.source === "netbox") warnings.push("Netbox is not configured");
  if (query.source === "ours" || !reference) return done(null);
  // A page filled by the last registrations: the next one starts with the Netbox devices.
  if (items.length >= limit) return done({ p: "netbox", n: "", i: -1 });

  // Phase 2: Netbox devices by name, after the cursor's; with source `all`, only those we did
  // not register (a registered one is already above).
  const { devices } = await loadInventory();
  const after = cursor?.p === "netbox" ? cursor : null;
  let i = after ? firstAfter(devices, after.n, after.i) : 0;
  const q = query.q?.toLowerCase();
  const netboxRows: ServerRow[] = [];
  while (i < devices.length && items.length + netboxRows.length < limit) {
    const batch: InventoryDevice[] = [];
    for (; i < devices.length && batch.length < limit - items.length - netboxRows.length; i++) {
      const d = devices[i];
      if (q && !d.name.toLowerCase().includes(q) && !d.bmc_ip?.includes(q)) continue;
      const row = netboxRow(config, d, null);
      if (matches(row, query)) batch.push(d);
    }
    const registered = await registrationIds(store, batch.map((d) => d.name.toLowerCase()));
    for (const d of batch) {
      const id = registered.get(d.name.toLowerCase()) ?? null;
      if (id && query.source === "all") continue;
      netboxRows.push(netboxRow(config, d, id));
    }
  }
  if (netboxRows.length) {
    try {
      const states = await hostStates(deps);
      for (const row of netboxRows) {
        const state = states.get(row.device_name);
        if (state && row.origin === "netbox") row.provisioning = state;
      }
    } catch (e) {
      log.warn("BareMetalHosts unavailable for the servers list", { error: e });
      warnings.push(`Provisioning states are not shown: ${(e as Error).message}`);
    }
  }
  items.push(...netboxRows);
  const last = devices[i - 1];
  return done(
    i < devices.length && last ? { p: "netbox", n: last.name.toLowerCase(), i: last.id } : null,
  );

  function done(next: Cursor | null) {
    return {
      items,
      cursor: next ? encodeCursor(next) : null,
      ...(warnings.length ? { warnings } : {}),
    };
  }
}

/** No Netbox devices (Netbox not configured, or unavailable). */
export const EMPTY: Inventory = { devices: [], byName: new Map(), loadedAt: "" };

/** The index of the first device after (name, id) in the sorted inventory: a binary search. */
function firstAfter(devices: InventoryDevice[], name: string, id: number): number {
  let lo = 0;
  let hi = devices.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareByName(devices[mid], name, id) > 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function netboxRow(config: Config, d: InventoryDevice, id: string | null): ServerRow {
  return {
    origin: "netbox",
    id,
    device_name: d.name,
    status: d.status,
    ...(d.bmc_ip ? { bmc_ip: d.bmc_ip } : {}),
    netbox: viewOf(config, d),
  };
}

/** Which of these device names have a live registration (decommissioned ones released theirs). */
async function registrationIds(
  store: RegistrationStore,
  names: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < names.length; i += 10) { // getMany takes 10 keys
    const chunk = names.slice(i, i + 10);
    const found = await store.kv.getMany<string[]>(chunk.map((n) => keys.byName(n)));
    found.forEach((e, j) => e.value && out.set(chunk[j], e.value));
  }
  return out;
}
