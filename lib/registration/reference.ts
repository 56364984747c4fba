/** Netbox reference data for the location pickers, cached in Deno KV with a TTL. */
import { Conflict, NotFound, UnknownReference } from "../domain/errors.ts";
import { IntegrationError } from "../integrations/http.ts";
import type {
  InventoryDevice,
  NetboxClient,
  NetboxPrefix,
  NetboxRef,
} from "../integrations/netbox.ts";
import { type Logger, silentLogger } from "../observability/log.ts";
import { keys } from "../state/keys.ts";
import type { RegistrationStore, SiteFilter } from "../state/store.ts";

/** Below KV's 64 KiB per value, with room for the encoding's overhead. */
const INVENTORY_CHUNK_BYTES = 40_000;
/** How long one replica may take to reload the inventory before another may try. */
const REFRESH_LEASE_MS = 10 * 60_000;

/** The stored inventory's head: how many chunks of which generation, loaded when. */
interface InventoryHead {
  chunks: number;
  generation: string;
  loaded_at: string;
}

/** The Netbox inventory: devices sorted by name, indexed by lower-cased name. */
export interface Inventory {
  devices: InventoryDevice[];
  byName: Map<string, InventoryDevice>;
  /** When it was read from Netbox. */
  loadedAt: string;
}

const inventoryKey = (filter: { roles: string[]; sites: string[] }) =>
  `inventory:${filter.roles.join(",")}:${filter.sites.join(",")}`;

function indexed(devices: InventoryDevice[], loadedAt = new Date().toISOString()): Inventory {
  return { devices, byName: new Map(devices.map((d) => [d.name.toLowerCase(), d])), loadedAt };
}

/** Orders devices by lower-cased name, then id: the inventory's order and cursor. */
export function compareByName(a: { name: string; id: number }, name: string, id: number): number {
  const n = a.name.toLowerCase();
  return n < name ? -1 : n > name ? 1 : a.id - id;
}

export interface RackElevation {
  rack: { id: number; name: string; u_height: number };
  /** One entry per unit, top first; `device` when Netbox has one there, `registration` when claimed by one in flight. */
  units: { position: number; device?: { id: number | null; name: string } }[];
}

export class ReferenceData {
  constructor(
    readonly netbox: NetboxClient,
    readonly store: RegistrationStore,
    readonly ttlSeconds: number,
    /** IPAM role slugs or names (lower case) of BMC prefixes, most preferred first. */
    readonly prefixRoles: readonly string[] = [],
    /** Where a failed background reload of the inventory is reported. */
    readonly log: Logger = silentLogger,
  ) {}

  async #cached<T>(what: string, load: () => Promise<T>): Promise<T> {
    const key = keys.reference(what);
    const hit = await this.store.kv.get<T>(key);
    if (hit.value !== null) return hit.value;
    const value = await load();
    if (this.ttlSeconds > 0) {
      await this.store.kv.set(key, value, { expireIn: this.ttlSeconds * 1000 });
    }
    return value;
  }

  sites() {
    return this.#cached("sites", () => this.netbox.listSites());
  }
  locations(siteId?: number) {
    return this.#cached(`locations:${siteId ?? ""}`, () => this.netbox.listLocations(siteId));
  }
  racks(filter: { siteId?: number; locationId?: number }) {
    return this.#cached(
      `racks:${filter.siteId ?? ""}:${filter.locationId ?? ""}`,
      () => this.netbox.listRacks(filter),
    );
  }
  deviceTypes() {
    return this.#cached("device-types", () => this.netbox.listDeviceTypes());
  }
  deviceRoles() {
    return this.#cached("device-roles", () => this.netbox.listDeviceRoles());
  }
  /**
   * Prefixes for the BMC prefix picker: those whose IPAM role is a BMC role (in the order of
   * `prefixRoles`), or every prefix when none has such a role. `all` adds the others after them.
   */
  async prefixes(all = false): Promise<NetboxPrefix[]> {
    const list = await this.#cached("prefixes", () => this.netbox.listPrefixes());
    const rank = (p: NetboxPrefix) => {
      if (!p.role) return -1;
      const names = [p.role.slug, p.role.name].map((n) => n?.toLowerCase());
      return this.prefixRoles.findIndex((r) => names.includes(r));
    };
    const bmc = list.filter((p) => rank(p) >= 0).sort((a, b) => rank(a) - rank(b));
    if (!bmc.length) return list;
    return all ? [...bmc, ...list.filter((p) => rank(p) < 0)] : bmc;
  }

  /** A site as users write it (id, slug or name), from the cached list. */
  async site(ref: string): Promise<NetboxRef> {
    return pick("site", ref, await this.sites());
  }

  /** A rack as users write it (id or name), within the site and location when given. */
  async rack(ref: string, scope: { siteId?: number; locationId?: number }): Promise<NetboxRef> {
    const unscoped = scope.siteId === undefined && scope.locationId === undefined;
    return pick("rack", ref, await this.racks(scope), unscoped);
  }

  /** A location as users write it (id, slug or name), within the site when one is given. */
  async location(ref: string, siteId?: number): Promise<NetboxRef> {
    return pick("location", ref, await this.locations(siteId), siteId === undefined);
  }
  tenants() {
    return this.#cached("tenants", () => this.netbox.listTenants());
  }

  /**
   * The Netbox devices of these roles and sites, sorted by name, with an index by name. A site can
   * hold 100,000 devices, which Netbox gives in pages of 1,000 (minutes on a busy one), so the
   * list is kept in KV (in chunks: a value holds at most 64 KiB, under one head written last) and
   * served from there; once it is older than the TTL, one replica reloads it in the background
   * while the stored one is served. Only when none is stored does a request wait for Netbox.
   */
  async inventory(filter: { roles: string[]; sites: string[] }): Promise<Inventory> {
    if (this.ttlSeconds <= 0) return indexed(await this.#readInventory(filter));
    return await this.storedInventory(filter) ?? await this.#loadOnce(inventoryKey(filter), filter);
  }

  /**
   * The stored inventory without waiting for Netbox: reloaded behind the request when stale; null
   * when none is stored yet (or caching is off), its load then started behind the request.
   */
  async storedInventory(filter: { roles: string[]; sites: string[] }): Promise<Inventory | null> {
    if (this.ttlSeconds <= 0) return null;
    const what = inventoryKey(filter);
    const head = await this.store.kv.get<InventoryHead>(keys.reference(what));
    const stored = head.value && await this.#storedInventory(what, head.value, head.versionstamp!);
    if (!stored) {
      this.#loadOnce(what, filter).catch((e) =>
        this.log.warn("Netbox inventory load failed", { error: e })
      );
      return null;
    }
    if (Date.now() - Date.parse(stored.loadedAt) > this.ttlSeconds * 1000) {
      this.#refreshBehind(what, filter);
    }
    return stored;
  }

  #inventoryMemo: { what: string; stamp: string; inventory: Inventory } | null = null;
  #inventoryLoads = new Map<string, Promise<Inventory>>();

  /** The stored inventory (memoised per head version), or null when a chunk is gone. */
  async #storedInventory(
    what: string,
    head: InventoryHead,
    stamp: string,
  ): Promise<Inventory | null> {
    const memo = this.#inventoryMemo;
    if (memo?.what === what && memo.stamp === stamp) return memo.inventory;
    const chunkKeys = Array.from(
      { length: head.chunks },
      (_, i) => keys.referenceChunk(what, head.generation, i),
    );
    const parts = [];
    for (let i = 0; i < chunkKeys.length; i += 10) { // getMany takes 10 keys
      parts.push(...await this.store.kv.getMany<InventoryDevice[][]>(chunkKeys.slice(i, i + 10)));
    }
    if (!parts.every((p) => p.value !== null)) return null;
    const inventory = indexed(parts.flatMap((p) => p.value!), head.loaded_at);
    this.#inventoryMemo = { what, stamp, inventory };
    return inventory;
  }

  /** One load at a time per filter in this process; concurrent callers share it. */
  #loadOnce(what: string, filter: { roles: string[]; sites: string[] }): Promise<Inventory> {
    let loading = this.#inventoryLoads.get(what);
    if (!loading) {
      loading = this.#loadInventory(what, filter).finally(() => this.#inventoryLoads.delete(what));
      this.#inventoryLoads.set(what, loading);
    }
    return loading;
  }

  /** Reloads a stale inventory behind the requests, in one replica (a lease in the store). */
  #refreshBehind(what: string, filter: { roles: string[]; sites: string[] }): void {
    if (this.#inventoryLoads.has(what)) return;
    const lease = keys.referenceRefresh(what);
    const refresh = async () => {
      const taken = await this.store.kv.atomic().check({ key: lease, versionstamp: null })
        .set(lease, new Date().toISOString(), { expireIn: REFRESH_LEASE_MS }).commit();
      if (!taken.ok) return;
      try {
        await this.#loadOnce(what, filter);
      } finally {
        await this.store.kv.delete(lease);
      }
    };
    refresh().catch((e) =>
      this.log.warn("Netbox inventory reload failed: the stored one is served", { error: e })
    );
  }

  async #readInventory(filter: { roles: string[]; sites: string[] }): Promise<InventoryDevice[]> {
    return (await this.netbox.listDevices(filter)).sort((a, b) =>
      compareByName(a, b.name.toLowerCase(), b.id)
    );
  }

  async #loadInventory(
    what: string,
    filter: { roles: string[]; sites: string[] },
  ): Promise<Inventory> {
    const devices = await this.#readInventory(filter);
    const loadedAt = new Date().toISOString();
    // Kept well past the TTL: a stale copy is served while the next one loads.
    const expireIn = Math.max(this.ttlSeconds * 12, 3600) * 1000;
    const chunks: InventoryDevice[][] = [];
    let size = 0;
    for (const d of devices) {
      const bytes = JSON.stringify(d).length;
      if (!chunks.length || size + bytes > INVENTORY_CHUNK_BYTES) {
        chunks.push([]);
        size = 0;
      }
      chunks.at(-1)!.push(d);
      size += bytes;
    }
    // A new generation's chunks, then the head: a reader of the old head still finds its chunks
    // (they expire a little after it).
    const generation = crypto.randomUUID();
    await Promise.all(
      chunks.map((c, i) =>
        this.store.kv.set(keys.referenceChunk(what, generation, i), c, {
          expireIn: expireIn + 60_000,
        })
      ),
    );
    const head: InventoryHead = { chunks: chunks.length, generation, loaded_at: loadedAt };
    await this.store.kv.set(keys.reference(what), head, { expireIn });
    return indexed(devices, loadedAt);
  }

  /** Occupied and free units, live (not cached): Netbox devices plus registrations still in flight. */
  async elevation(rackId: number): Promise<RackElevation> {
    const rack = (await this.racks({})).find((r) => r.id === rackId) ??
      (await this.netbox.listRacks({})).find((r) => r.id === rackId);
    if (!rack) throw new NotFound(`No rack ${rackId} in Netbox`);
    const occupied = new Map<number, { id: number | null; name: string }>();
    for (const d of await this.netbox.rackDevices(rackId)) {
      if (d.position == null) continue;
      for (let u = d.position; u < d.position + Math.max(1, d.u_height); u++) {
        occupied.set(u, { id: d.id, name: d.name });
      }
    }
    for await (const e of this.store.kv.list<string>({ prefix: keys.rackSlots(rackId) })) {
      const u = e.key[2] as number;
      if (occupied.has(u)) continue;
      const r = await this.store.get(e.value);
      if (r && r.status !== "decommissioned") occupied.set(u, { id: null, name: r.device_name });
    }
    const units = [];
    for (let u = rack.u_height; u >= 1; u--) {
      const device = occupied.get(u);
      units.push(device ? { position: u, device } : { position: u });
    }
    return { rack: { id: rack.id, name: rack.name, u_height: rack.u_height }, units };
  }
}

/**
 * The servers list's `site` filter: the site resolved (so its id, slug and name find the same
 * records), or, without Netbox or for a site Netbox does not know, the text as written.
 */
export async function siteFilter(
  reference: ReferenceData | undefined,
  ref: string,
): Promise<SiteFilter> {
  const written = ref.trim().toLowerCase();
  if (!reference) return { names: [written] };
  try {
    const site = await reference.site(ref);
    const names = [written, String(site.id), site.slug, site.name];
    return { id: site.id, names: names.filter((n) => n !== undefined).map((n) => n.toLowerCase()) };
  } catch (e) {
    // A list must still answer when Netbox is down or the site was removed from it.
    if (e instanceof UnknownReference || e instanceof Conflict || e instanceof IntegrationError) {
      return { names: [written] };
    }
    throw e;
  }
}

/** Resolves id → slug → case-insensitive name, like the registration's look-ups in Netbox. */
function pick(field: string, ref: string, list: NetboxRef[], unscoped = false): NetboxRef {
  const text = ref.trim();
  const lower = text.toLowerCase();
  const byId = /^\d+$/.test(text) ? list.filter((o) => o.id === Number(text)) : [];
  for (
    const found of [
      byId,
      list.filter((o) => o.slug?.toLowerCase() === lower),
      list.filter((o) => o.name.toLowerCase() === lower),
    ]
  ) {
    if (found.length === 1) return found[0];
    if (found.length > 1) {
      throw new Conflict(
        `${field} "${text}" matches ${found.length} objects in Netbox (ids ${
          found.map((o) => o.id).join(", ")
        }): use the id${unscoped ? " or give the site" : ""}`,
      );
    }
  }
  throw new UnknownReference(field, text);
}
