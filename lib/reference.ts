/** Netbox reference data for the location pickers, cached in Deno KV with a TTL. */
import { NotFound } from "./errors.ts";
import type { NetboxClient } from "./netbox.ts";
import { keys, type RegistrationStore } from "./store.ts";

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
  prefixes() {
    return this.#cached("prefixes", () => this.netbox.listPrefixes());
  }
  tenants() {
    return this.#cached("tenants", () => this.netbox.listTenants());
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
    for await (const e of this.store.kv.list<string>({ prefix: ["rack_slots", rackId] })) {
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
