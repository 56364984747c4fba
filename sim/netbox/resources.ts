/** The REST endpoints of the fake: which table each path serves and how it is written. */
import { intToIpv4, ipv4ToInt } from "../../lib/domain/ipv4.ts";
import { NETBOX_DEVICE_STATUSES } from "../../lib/domain/model.ts";
import {
  assignedInterface,
  hostOf,
  invalid,
  type NetboxDb,
  nextId,
  normalMac,
  parseCidr,
  resolveRef,
  siteAttrs,
} from "./db.ts";
import {
  addLocation,
  addRack,
  addRole,
  addSite,
  addTenant,
  deleteDevice,
  deviceFromBody,
  validateDevice,
} from "./dcim.ts";
import {
  choiceFilter,
  devicesWithMac,
  type Filter,
  fkFilter,
  namedFilters,
  slugFilter,
  stringFilters,
} from "./filters.ts";
import {
  checkPrimaryMac,
  createInterface,
  createMac,
  deleteInterface,
  deleteMac,
  interfaceFromBody,
  interfaceMacs,
  updateMac,
} from "./interfaces.ts";
import { addIpamRole, addPrefix, createIp, deleteIp, ipFromBody, validateIp } from "./ipam.ts";
import type { Serializers } from "./serialize.ts";
import type {
  FakeDevice,
  FakeDeviceType,
  FakeInterface,
  FakeIpAddress,
  FakeIpamRole,
  FakeLocation,
  FakeMacAddress,
  FakePrefix,
  FakeRack,
  FakeRole,
  FakeSite,
  FakeTenant,
} from "./types.ts";

/** One REST endpoint: its table, serialiser, filters and write rules. */
export interface Resource {
  // deno-lint-ignore no-explicit-any
  table: Map<number, any>;
  // deno-lint-ignore no-explicit-any
  serialize: (s: Serializers, o: any) => unknown;
  // deno-lint-ignore no-explicit-any
  filters: Record<string, Filter<any>>;
  create?: (body: Record<string, unknown>) => { id: number };
  // deno-lint-ignore no-explicit-any
  update?: (o: any, body: Record<string, unknown>) => void;
  // deno-lint-ignore no-explicit-any
  remove?: (o: any) => void;
  /** Objects that protect this one from deletion (Netbox's PROTECT foreign keys). */
  // deno-lint-ignore no-explicit-any
  dependents?: (o: any) => number;
}

const str = (v: unknown) => (typeof v === "string" ? v : "");

/** Sites, locations, racks, manufacturers, device types and roles, tenants. */
function organisationResources(db: NetboxDb): Record<string, Resource> {
  const resources: Record<string, Resource> = {};
  resources["dcim/sites"] = {
    table: db.sites,
    serialize: (s, o) => s.site(o),
    filters: namedFilters<FakeSite>(),
    create: (b) =>
      addSite(db, { name: str(b.name), slug: str(b.slug), description: str(b.description) }),
    dependents: (o: FakeSite) =>
      [...db.devices.values(), ...db.racks.values(), ...db.locations.values()].filter((x) =>
        x.site_id === o.id
      )
        .length,
  };
  resources["dcim/locations"] = {
    table: db.locations,
    serialize: (s, o) => s.location(o),
    filters: {
      ...namedFilters<FakeLocation>(),
      site_id: fkFilter("site_id", db.sites, (o: FakeLocation) => o.site_id),
    },
    create: (b) => {
      const site = resolveRef("site", b.site, db.sites, siteAttrs);
      if (!site) invalid("site", "This field is required.");
      return addLocation(db, { name: str(b.name), slug: str(b.slug), siteId: site.id });
    },
    dependents: (o: FakeLocation) =>
      [...db.racks.values(), ...db.devices.values()].filter((x) => x.location_id === o.id).length,
  };
  resources["dcim/racks"] = {
    table: db.racks,
    serialize: (s, o) => s.rack(o),
    filters: {
      ...stringFilters<FakeRack>("name", (o) => o.name),
      q: (o: FakeRack, v) => v.some((x) => o.name.toLowerCase().includes(x.toLowerCase())),
      site_id: fkFilter("site_id", db.sites, (o: FakeRack) => o.site_id),
      location_id: fkFilter("location_id", db.locations, (o: FakeRack) => o.location_id),
    },
    create: (b) => {
      const site = resolveRef("site", b.site, db.sites, siteAttrs);
      if (!site) invalid("site", "This field is required.");
      const loc = resolveRef("location", b.location, db.locations, siteAttrs);
      return addRack(db, {
        name: str(b.name),
        siteId: site.id,
        locationId: loc?.id ?? null,
        uHeight: b.u_height === undefined ? undefined : Number(b.u_height),
      });
    },
    dependents: (o: FakeRack) => [...db.devices.values()].filter((x) => x.rack_id === o.id).length,
  };
  resources["dcim/manufacturers"] = {
    table: db.manufacturers,
    serialize: (s, o) => s.role(o),
    filters: namedFilters(),
  };
  resources["dcim/device-types"] = {
    table: db.deviceTypes,
    serialize: (s, o) => s.deviceType(o),
    filters: {
      ...stringFilters<FakeDeviceType>("model", (o) => o.model),
      ...stringFilters<FakeDeviceType>("slug", (o) => o.slug),
      manufacturer: (o: FakeDeviceType, v) =>
        v.includes(db.manufacturers.get(o.manufacturer_id)!.slug),
      q: (o: FakeDeviceType, v) => v.some((x) => o.model.toLowerCase().includes(x.toLowerCase())),
    },
    dependents: (o: FakeDeviceType) =>
      [...db.devices.values()].filter((x) => x.device_type_id === o.id).length,
  };
  resources["dcim/device-roles"] = {
    table: db.roles,
    serialize: (s, o) => s.role(o),
    filters: namedFilters<FakeRole>(),
    create: (b) => addRole(db, { name: str(b.name), slug: str(b.slug) }),
    dependents: (o: FakeRole) => [...db.devices.values()].filter((x) => x.role_id === o.id).length,
  };
  resources["tenancy/tenants"] = {
    table: db.tenants,
    serialize: (s, o) => s.tenant(o),
    filters: namedFilters<FakeTenant>(),
    create: (b) => addTenant(db, { name: str(b.name), slug: str(b.slug) }),
  };
  return resources;
}

/** Prefixes, IPAM roles and IP addresses. */
function ipamResources(db: NetboxDb): Record<string, Resource> {
  const resources: Record<string, Resource> = {};
  resources["ipam/prefixes"] = {
    table: db.prefixes,
    serialize: (s, o) => s.prefix(o),
    filters: {
      prefix: (o: FakePrefix, v) =>
        v.some((x) => {
          const c = parseCidr(x);
          return !!c && `${intToIpv4(c.network)}/${c.len}` === o.prefix;
        }),
      contains: (o: FakePrefix, v) =>
        v.some((x) => {
          const c = parseCidr(x, 32);
          const p = parseCidr(o.prefix)!;
          return !!c && c.len >= p.len && c.n >= p.network && c.n <= p.broadcast;
        }),
      q: (o: FakePrefix, v) => v.some((x) => o.prefix.includes(x) || o.description.includes(x)),
      ...stringFilters<FakePrefix>("description", (o) => o.description),
      role_id: fkFilter("role_id", db.ipamRoles, (o: FakePrefix) => o.role_id),
      // Netbox's `role` filter takes slugs and answers 400 for an unknown one.
      role: (o: FakePrefix, v) => {
        for (const slug of v) {
          if (![...db.ipamRoles.values()].some((r) => r.slug === slug)) {
            invalid("role", `Select a valid choice. ${slug} is not one of the available choices.`);
          }
        }
        return o.role_id !== null && v.includes(db.ipamRoles.get(o.role_id)!.slug);
      },
    },
    create: (b) =>
      addPrefix(db, {
        prefix: str(b.prefix),
        description: str(b.description),
        isPool: b.is_pool === true,
        roleId: resolveRef("role", b.role, db.ipamRoles, siteAttrs)?.id ?? null,
      }),
  };
  resources["ipam/roles"] = {
    table: db.ipamRoles,
    serialize: (s, o) => s.ipamRole(o),
    filters: namedFilters<FakeIpamRole>(),
    create: (b) =>
      addIpamRole(db, {
        name: str(b.name),
        slug: str(b.slug),
        weight: b.weight === undefined ? undefined : Number(b.weight),
      }),
    // Prefix.role is SET_NULL in Netbox: deleting a role leaves its prefixes without one.
    remove: (o: FakeIpamRole) => {
      for (const p of db.prefixes.values()) if (p.role_id === o.id) p.role_id = null;
      db.ipamRoles.delete(o.id);
    },
  };
  resources["ipam/ip-addresses"] = {
    table: db.ipAddresses,
    serialize: (s, o) => s.ip(o),
    filters: {
      address: (o: FakeIpAddress, v) =>
        v.some((x) => (x.includes("/") ? x === o.address : x === hostOf(o.address))),
      parent: (o: FakeIpAddress, v) =>
        v.some((x) => {
          const p = parseCidr(x);
          const n = ipv4ToInt(hostOf(o.address));
          return !!p && n >= p.network && n <= p.broadcast;
        }),
      interface_id: fkFilter(
        "interface_id",
        db.interfaces,
        (o: FakeIpAddress) => assignedInterface(db, o)?.id ?? null,
      ),
      device_id: fkFilter(
        "device_id",
        db.devices,
        (o: FakeIpAddress) => assignedInterface(db, o)?.device_id ?? null,
      ),
      assigned_to_interface: (o: FakeIpAddress, v) =>
        v.includes(String(assignedInterface(db, o) !== null)),
      status: (o: FakeIpAddress, v) => v.includes(o.status),
      ...stringFilters<FakeIpAddress>("dns_name", (o) => o.dns_name),
      q: (o: FakeIpAddress, v) => v.some((x) => o.address.includes(x) || o.description.includes(x)),
    },
    create: (b) => createIp(db, b),
    update: (o: FakeIpAddress, b) => {
      const ip = ipFromBody(db, b, o);
      validateIp(db, ip, o.id, o);
      db.ipAddresses.set(o.id, ip);
    },
    remove: (o) => deleteIp(db, o),
  };

  // ---------- HTTP ----------
  return resources;
}

/** Devices, their interfaces and (4.2+) MAC address objects. */
function deviceResources(db: NetboxDb): Record<string, Resource> {
  const resources: Record<string, Resource> = {};
  resources["dcim/devices"] = {
    table: db.devices,
    serialize: (s, o) => s.device(o),
    filters: {
      ...stringFilters<FakeDevice>("name", (o) => o.name),
      q: (o: FakeDevice, v) =>
        v.some((x) => (o.name ?? "").toLowerCase().includes(x.toLowerCase())),
      // Netbox's DeviceFilterSet: `<fk>_id` by id and `<fk>` by slug for site, role (`role` from
      // 3.6, `device_role` removed in 4.0), tenant and device_type; each repeatable.
      site_id: fkFilter("site_id", db.sites, (o: FakeDevice) => o.site_id),
      site: slugFilter("site", db.sites, (o: FakeDevice) => o.site_id),
      location_id: fkFilter("location_id", db.locations, (o: FakeDevice) => o.location_id),
      rack_id: fkFilter("rack_id", db.racks, (o: FakeDevice) => o.rack_id),
      role_id: fkFilter("role_id", db.roles, (o: FakeDevice) => o.role_id),
      role: slugFilter("role", db.roles, (o: FakeDevice) => o.role_id),
      tenant_id: fkFilter("tenant_id", db.tenants, (o: FakeDevice) => o.tenant_id),
      tenant: slugFilter("tenant", db.tenants, (o: FakeDevice) => o.tenant_id),
      device_type_id: fkFilter(
        "device_type_id",
        db.deviceTypes,
        (o: FakeDevice) => o.device_type_id,
      ),
      device_type: slugFilter("device_type", db.deviceTypes, (o: FakeDevice) => o.device_type_id),
      status: choiceFilter("status", NETBOX_DEVICE_STATUSES, (o: FakeDevice) => o.status),
      position: (o: FakeDevice, v) => v.map(Number).includes(o.position ?? NaN),
      mac_address: (o: FakeDevice, v) => devicesWithMac(db, v).has(o.id),
    },
    create: (b) => {
      const d = deviceFromBody(db, b, null);
      validateDevice(db, d, null);
      d.id = nextId(db, db.devices);
      db.devices.set(d.id, d);
      return d;
    },
    update: (o: FakeDevice, b) => {
      const d = deviceFromBody(db, b, o);
      validateDevice(db, d, o.id);
      db.devices.set(o.id, d);
    },
    remove: (o) => deleteDevice(db, o),
  };
  resources["dcim/interfaces"] = {
    table: db.interfaces,
    serialize: (s, o) => s.interface(o),
    filters: {
      ...stringFilters<FakeInterface>("name", (o) => o.name),
      device_id: fkFilter("device_id", db.devices, (o: FakeInterface) => o.device_id),
      mgmt_only: (o: FakeInterface, v) => v.includes(String(o.mgmt_only)),
      mac_address: (o: FakeInterface, v) => {
        const macs = interfaceMacs(db, o);
        return v.some((x) => macs.includes(normalMac(x) ?? ""));
      },
    },
    create: (b) => createInterface(db, b),
    update: (o: FakeInterface, b) => {
      const { iface, primaryMac } = interfaceFromBody(db, b, o);
      checkPrimaryMac(db, iface, primaryMac, false);
      db.interfaces.set(o.id, iface);
    },
    remove: (o) => deleteInterface(db, o),
  };
  if (db.macObjects) {
    resources["dcim/mac-addresses"] = {
      table: db.macAddresses,
      serialize: (s, o) => s.mac(o),
      filters: {
        mac_address: (o: FakeMacAddress, v) => v.some((x) => normalMac(x) === o.mac_address),
        interface_id: fkFilter(
          "interface_id",
          db.interfaces,
          (o: FakeMacAddress) => assignedInterface(db, o)?.id ?? null,
        ),
        device_id: fkFilter(
          "device_id",
          db.devices,
          (o: FakeMacAddress) => assignedInterface(db, o)?.device_id ?? null,
        ),
        assigned_object_id: (o: FakeMacAddress, v) =>
          v.map(Number).includes(o.assigned_object_id ?? -1),
        assigned_object_type: (o: FakeMacAddress, v) => v.includes(o.assigned_object_type ?? ""),
        assigned: (o: FakeMacAddress, v) => v.includes(String(o.assigned_object_id !== null)),
      },
      create: (b) => createMac(db, b),
      update: (o, b) => updateMac(db, o, b),
      remove: (o) => deleteMac(db, o),
    };
  }
  return resources;
}

/** Every endpoint of one fake, by `app/model` path. */
export function resourcesOf(db: NetboxDb): Record<string, Resource> {
  return { ...organisationResources(db), ...ipamResources(db), ...deviceResources(db) };
}
