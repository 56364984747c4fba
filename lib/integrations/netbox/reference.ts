/** Netbox reference data: sites, locations, racks, device types and roles, tenants, prefixes. */
import type { NetboxCore } from "./core.ts";
import type { NetboxClient } from "./types.ts";
import {
  type ApiDeviceType,
  type ApiNamed,
  type ApiPrefix,
  type ApiRack,
  asId,
  toDeviceType,
  toPrefix,
  toRack,
  toRef,
} from "./wire.ts";

/** Sites, locations, racks, device types and roles, tenants, prefixes: lists and lookups. */
export function referenceOps(
  core: NetboxCore,
): Pick<
  NetboxClient,
  | "listSites"
  | "listLocations"
  | "listRacks"
  | "listDeviceTypes"
  | "listDeviceRoles"
  | "listTenants"
  | "listPrefixes"
  | "findSite"
  | "findLocation"
  | "findRack"
  | "findDeviceType"
  | "findDeviceRole"
  | "findTenant"
  | "findPrefix"
> {
  const { list, single, findNamed, rememberTypes } = core;
  return {
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
  };
}
