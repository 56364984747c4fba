/** The sample datacenter the demo and the engine tests load into the fake Netbox. */
import type { FakeNetbox, NetboxSeedIds } from "./types.ts";

export type { NetboxSeedIds };

/** What the seed contains, by name, so tests and the demo can refer to it. */
export const NETBOX_SEED = {
  site: { name: "DCOA", slug: "dcoa" },
  location: { name: "Hall A", slug: "hall-a" },
  racks: [{ name: "RB06", uHeight: 42 }, { name: "RB07", uHeight: 42 }],
  deviceTypes: [
    { model: "SYS-1029U-TRT", slug: "sys-1029u", manufacturer: "Supermicro", uHeight: 1 },
    { model: "PowerEdge R750", slug: "r750", manufacturer: "Dell", uHeight: 2 },
  ],
  roles: [{ name: "Server", slug: "server" }, { name: "Storage", slug: "storage" }],
  tenant: { name: "Platform", slug: "platform" },
  /** The BMC network, with the IPAM role the prefix picker lists first. */
  bmcRole: { name: "BMC", slug: "bmc" },
  bmcPrefix: { prefix: "10.16.28.0/24", description: "BMC" },
  /** Already taken in the BMC prefix: router, infrastructure and the NTP server. */
  usedBmcIps: Array.from({ length: 10 }, (_, i) => `10.16.28.${i + 1}/24`),
  /** Devices already racked (so the elevation shows occupied units). */
  devices: [
    { name: "dcoa-rb06u1", rack: "RB06", position: 1, type: "r750", role: "storage" },
    { name: "dcoa-rb06u3", rack: "RB06", position: 3, type: "sys-1029u", role: "server" },
    { name: "dcoa-rb06u40", rack: "RB06", position: 40, type: "r750", role: "server" },
    { name: "dcoa-rb07u20", rack: "RB07", position: 20, type: "r750", role: "storage" },
  ],
} as const;

/** Loads NETBOX_SEED into a fake (an empty one: ids then start at 1). */
export function seedNetbox(fake: FakeNetbox): NetboxSeedIds {
  const site = fake.addSite(NETBOX_SEED.site);
  const location = fake.addLocation({ ...NETBOX_SEED.location, siteId: site.id });
  const rackIds: Record<string, number> = {};
  for (const r of NETBOX_SEED.racks) {
    rackIds[r.name] = fake.addRack({
      name: r.name,
      siteId: site.id,
      locationId: location.id,
      uHeight: r.uHeight,
    }).id;
  }
  const deviceTypeIds: Record<string, number> = {};
  for (const t of NETBOX_SEED.deviceTypes) deviceTypeIds[t.slug] = fake.addDeviceType(t).id;
  const roleIds: Record<string, number> = {};
  for (const r of NETBOX_SEED.roles) roleIds[r.slug] = fake.addRole(r).id;
  const tenant = fake.addTenant(NETBOX_SEED.tenant);
  const bmcRole = fake.addIpamRole(NETBOX_SEED.bmcRole);
  const prefix = fake.addPrefix({ ...NETBOX_SEED.bmcPrefix, roleId: bmcRole.id });
  for (const address of NETBOX_SEED.usedBmcIps) {
    fake.addIp({ address, description: address.startsWith("10.16.28.1/") ? "gateway" : "" });
  }
  for (const d of NETBOX_SEED.devices) {
    fake.addDevice({
      name: d.name,
      siteId: site.id,
      locationId: location.id,
      rackId: rackIds[d.rack],
      position: d.position,
      face: "front",
      deviceTypeId: deviceTypeIds[d.type],
      roleId: roleIds[d.role],
      tenantId: tenant.id,
      status: "active",
    });
  }
  return {
    siteId: site.id,
    locationId: location.id,
    rackIds,
    deviceTypeIds,
    roleIds,
    tenantId: tenant.id,
    bmcPrefixId: prefix.id,
  };
}
