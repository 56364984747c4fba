/** The fake's JSON: each object the way Netbox 4 serialises it. */
import { assignedInterface, label, type NetboxDb } from "./db.ts";
import { interfaceMac } from "./interfaces.ts";
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

/** The brief forms Netbox nests inside other objects (`{id, url, display, …}`). */
function nestedSerializers(db: NetboxDb, origin: string) {
  const url = (path: string, id: number) => `${origin}/api/${path}/${id}/`;
  const named = (
    path: string,
    o: { id: number; name: string; slug: string; description: string },
  ) => ({
    id: o.id,
    url: url(path, o.id),
    display: o.name,
    name: o.name,
    slug: o.slug,
    description: o.description,
  });
  const nestedSite = (id: number | null) =>
    id === null ? null : named("dcim/sites", db.sites.get(id)!);
  const nestedLocation = (id: number | null) =>
    id === null ? null : { ...named("dcim/locations", db.locations.get(id)!), _depth: 0 };
  const nestedRack = (id: number | null) => {
    if (id === null) return null;
    const r = db.racks.get(id)!;
    return {
      id,
      url: url("dcim/racks", id),
      display: r.name,
      name: r.name,
      description: r.description,
    };
  };
  const nestedTenant = (id: number | null) =>
    id === null ? null : named("tenancy/tenants", db.tenants.get(id)!);
  const nestedDevice = (id: number) => {
    const d = db.devices.get(id)!;
    const display = d.name ?? `Unnamed device (${d.id})`;
    return {
      id,
      url: url("dcim/devices", id),
      display,
      name: d.name,
      description: d.description,
    };
  };
  const nestedIp = (id: number | null) => {
    if (id === null) return null;
    const ip = db.ipAddresses.get(id)!;
    return {
      id,
      url: url("ipam/ip-addresses", id),
      display: ip.address,
      family: { value: 4, label: "IPv4" },
      address: ip.address,
      description: ip.description,
    };
  };
  const nestedMac = (id: number | null) => {
    if (id === null) return null;
    const m = db.macAddresses.get(id)!;
    const value = m.mac_address.toUpperCase();
    return {
      id,
      url: url("dcim/mac-addresses", id),
      display: value,
      mac_address: value,
      description: m.description,
    };
  };
  const nestedInterface = (id: number) => {
    const i = db.interfaces.get(id)!;
    return {
      id,
      url: url("dcim/interfaces", id),
      display: i.name,
      device: nestedDevice(i.device_id),
      name: i.name,
      description: i.description,
      cable: null,
      _occupied: false,
    };
  };
  const nestedType = (t: FakeDeviceType) => ({
    id: t.id,
    url: url("dcim/device-types", t.id),
    display: t.model,
    manufacturer: named("dcim/manufacturers", db.manufacturers.get(t.manufacturer_id)!),
    model: t.model,
    slug: t.slug,
    description: t.description,
  });
  return {
    url,
    named,
    nestedSite,
    nestedLocation,
    nestedRack,
    nestedTenant,
    nestedDevice,
    nestedIp,
    nestedMac,
    nestedInterface,
    nestedType,
  };
}

/** Full objects as the REST API returns them, links under `origin`. */
export function serializers(db: NetboxDb, origin: string) {
  const n = nestedSerializers(db, origin);
  return {
    site: (o: FakeSite) => ({
      ...n.named("dcim/sites", o),
      status: { value: "active", label: "Active" },
    }),
    location: (o: FakeLocation) => ({
      ...n.named("dcim/locations", o),
      site: n.nestedSite(o.site_id),
      parent: null,
      _depth: 0,
    }),
    rack: (o: FakeRack) => ({
      ...n.nestedRack(o.id),
      site: n.nestedSite(o.site_id),
      location: n.nestedLocation(o.location_id),
      u_height: o.u_height,
      starting_unit: 1,
      desc_units: false,
      status: { value: "active", label: "Active" },
    }),
    deviceType: (o: FakeDeviceType) => ({
      ...n.nestedType(o),
      u_height: o.u_height,
      is_full_depth: o.is_full_depth,
    }),
    role: (o: FakeRole) => n.named("dcim/device-roles", o),
    tenant: (o: FakeTenant) => n.named("tenancy/tenants", o),
    prefix: (o: FakePrefix) => ({
      id: o.id,
      url: n.url("ipam/prefixes", o.id),
      display: o.prefix,
      family: { value: 4, label: "IPv4" },
      prefix: o.prefix,
      vrf: null,
      status: { value: o.status, label: label(o.status) },
      role: o.role_id === null ? null : n.named("ipam/roles", db.ipamRoles.get(o.role_id)!),
      is_pool: o.is_pool,
      description: o.description,
    }),
    ipamRole: (o: FakeIpamRole) => ({
      ...n.named("ipam/roles", o),
      weight: o.weight,
      prefix_count: [...db.prefixes.values()].filter((p) => p.role_id === o.id).length,
    }),
    device: (o: FakeDevice) => ({
      ...n.nestedDevice(o.id),
      device_type: n.nestedType(db.deviceTypes.get(o.device_type_id)!),
      role: n.named("dcim/device-roles", db.roles.get(o.role_id)!),
      tenant: n.nestedTenant(o.tenant_id),
      site: n.nestedSite(o.site_id),
      location: n.nestedLocation(o.location_id),
      rack: n.nestedRack(o.rack_id),
      position: o.position,
      face: o.face ? { value: o.face, label: label(o.face) } : null,
      status: { value: o.status, label: label(o.status) },
      serial: o.serial,
      oob_ip: n.nestedIp(o.oob_ip_id),
      primary_ip: null,
      primary_ip4: null,
      primary_ip6: null,
    }),
    interface: (o: FakeInterface) => {
      const mac = interfaceMac(db, o);
      return {
        ...n.nestedInterface(o.id),
        type: { value: o.type, label: o.type },
        enabled: o.enabled,
        mgmt_only: o.mgmt_only,
        mac_address: mac ? mac.toUpperCase() : null,
        ...(db.macObjects
          ? {
            primary_mac_address: n.nestedMac(o.primary_mac_address_id),
            mac_addresses: [...db.macAddresses.values()].filter((m) =>
              assignedInterface(db, m)?.id === o.id
            )
              .map((m) => n.nestedMac(m.id)),
          }
          : {}),
        count_ipaddresses:
          [...db.ipAddresses.values()].filter((ip) => assignedInterface(db, ip)?.id === o.id)
            .length,
      };
    },
    mac: (o: FakeMacAddress) => ({
      ...n.nestedMac(o.id),
      assigned_object_type: o.assigned_object_type,
      assigned_object_id: o.assigned_object_id,
      assigned_object: assignedInterface(db, o) ? n.nestedInterface(o.assigned_object_id!) : null,
    }),
    ip: (o: FakeIpAddress) => ({
      ...n.nestedIp(o.id),
      vrf: null,
      tenant: n.nestedTenant(o.tenant_id),
      status: { value: o.status, label: label(o.status) },
      role: null,
      assigned_object_type: o.assigned_object_type,
      assigned_object_id: o.assigned_object_id,
      assigned_object: assignedInterface(db, o) ? n.nestedInterface(o.assigned_object_id!) : null,
      dns_name: o.dns_name,
    }),
  };
}

export type Serializers = ReturnType<typeof serializers>;
