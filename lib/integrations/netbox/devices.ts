/** Netbox devices (dcim): rack occupancy, inventory, create, OOB IP, status, delete. */
import { canonicalMac } from "../../domain/mac.ts";
import type { NetboxCore } from "./core.ts";
import type { InventoryDevice, NetboxClient, NetboxDevice } from "./types.ts";
import {
  type ApiDevice,
  type ApiDeviceType,
  asId,
  type Page,
  PAGE_SIZE,
  toDevice,
  toInventoryDevice,
} from "./wire.ts";

/** Where a device sits, as Netbox's device fields (create, and a drift repair putting it back). */
function placementOf(
  input: { name: string; siteId: number; locationId: number; rackId: number; position: number },
) {
  return {
    name: input.name,
    site: input.siteId,
    location: input.locationId,
    rack: input.rackId,
    position: input.position,
    face: "front",
  };
}

/** Devices: rack occupancy, inventory lists, create, OOB IP, status, delete. */
export function deviceOps(
  core: NetboxCore,
): Pick<
  NetboxClient,
  | "rackDevices"
  | "listDevices"
  | "findDevicesByMac"
  | "createDevice"
  | "setOobIp"
  | "setDeviceStatus"
  | "deleteDevice"
  | "updateDevice"
  | "findDeviceByName"
> {
  const {
    send,
    remove,
    list,
    withRepeated,
    createChecked,
    rememberTypes,
    knownHeight,
    findDeviceByName,
    http,
    headers,
    api,
  } = core;
  return {
    async updateDevice(id, input) {
      await send("update device", "PATCH", `dcim/devices/${id}`, placementOf(input));
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
      for (const name of filter.names ?? []) search.append("name", name);
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
        ...placementOf(input),
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

    async setOobIp(deviceId, ipId) {
      await send("set OOB IP", "PATCH", `dcim/devices/${deviceId}`, { oob_ip: ipId });
    },
    async setDeviceStatus(deviceId, status) {
      await send("set device status", "PATCH", `dcim/devices/${deviceId}`, { status });
    },

    deleteDevice: (id) => remove("delete device", `dcim/devices/${id}`),
  };
}
