/** The fake Netbox's objects (as stored, foreign keys by id) and its public shape. */
import type { Faults } from "../faults.ts";

export interface FakeSite {
  id: number;
  name: string;
  slug: string;
  description: string;
}
export interface FakeLocation extends FakeSite {
  site_id: number;
}
export interface FakeRack {
  id: number;
  name: string;
  site_id: number;
  location_id: number | null;
  u_height: number;
  description: string;
}
export interface FakeManufacturer extends FakeSite {}
export interface FakeDeviceType {
  id: number;
  manufacturer_id: number;
  model: string;
  slug: string;
  u_height: number;
  is_full_depth: boolean;
  description: string;
}
export interface FakeRole extends FakeSite {}
export interface FakeTenant extends FakeSite {}
/** An IPAM role (`ipam.Role`), the kind of network a prefix is: BMC, OOB, management… */
export interface FakeIpamRole extends FakeSite {
  weight: number;
}
export interface FakePrefix {
  id: number;
  prefix: string;
  description: string;
  is_pool: boolean;
  status: string;
  role_id: number | null;
}
export interface FakeDevice {
  id: number;
  name: string | null;
  site_id: number;
  location_id: number | null;
  rack_id: number | null;
  position: number | null;
  face: "" | "front" | "rear";
  device_type_id: number;
  role_id: number;
  tenant_id: number | null;
  status: string;
  oob_ip_id: number | null;
  serial: string;
  description: string;
}
export interface FakeInterface {
  id: number;
  device_id: number;
  name: string;
  type: string;
  enabled: boolean;
  mgmt_only: boolean;
  description: string;
  /** Only used before 4.2, when the MAC was a plain interface field (lower-case colon form). */
  mac_address: string | null;
  /** 4.2+: the MAC object designated as the interface's primary MAC. */
  primary_mac_address_id: number | null;
}
export interface FakeMacAddress {
  id: number;
  /** Lower-case colon form; serialised upper-case like Netbox does. */
  mac_address: string;
  assigned_object_type: string | null;
  assigned_object_id: number | null;
  description: string;
}
export interface FakeIpAddress {
  id: number;
  /** CIDR form, e.g. `10.16.28.31/24`. */
  address: string;
  status: string;
  dns_name: string;
  description: string;
  tenant_id: number | null;
  assigned_object_type: string | null;
  assigned_object_id: number | null;
}

/** The fake's options. */
export interface FakeNetboxOptions {
  /** Reported Netbox version; default "4.3.1". Below 4.2 interfaces carry `mac_address` directly. */
  version?: string;
  /** The one accepted token (v1 plaintext, or a v2 `nbt_<key>.<plaintext>`). */
  token?: string;
  /** Adds the sample site, racks, device types, roles, tenant and BMC prefix (see seed.ts). */
  seed?: boolean;
}

/** The fake's tables, by id (foreign keys as ids, like the database). */
export interface NetboxTables {
  sites: Map<number, FakeSite>;
  locations: Map<number, FakeLocation>;
  racks: Map<number, FakeRack>;
  manufacturers: Map<number, FakeManufacturer>;
  deviceTypes: Map<number, FakeDeviceType>;
  roles: Map<number, FakeRole>;
  tenants: Map<number, FakeTenant>;
  ipamRoles: Map<number, FakeIpamRole>;
  prefixes: Map<number, FakePrefix>;
  devices: Map<number, FakeDevice>;
  interfaces: Map<number, FakeInterface>;
  macAddresses: Map<number, FakeMacAddress>;
  ipAddresses: Map<number, FakeIpAddress>;
}

/** A running fake: its handler, faults, state maps and helpers that add objects directly. */
export interface FakeNetbox extends NetboxTables {
  handler: (req: Request) => Promise<Response>;
  faults: Faults;
  version: string;
  token: string;
  /** True when the version has `dcim.MACAddress` objects (4.2+). */
  macObjects: boolean;
  /** `METHOD /path?query` of the most recent requests (last 1000), for assertions. */
  requestLog: string[];
  /** Ids of the sample objects when created with `seed: true`. */
  seedIds: NetboxSeedIds | null;
  addSite(input: { name: string; slug?: string; description?: string }): FakeSite;
  addLocation(input: { name: string; siteId: number; slug?: string }): FakeLocation;
  addRack(
    input: { name: string; siteId: number; locationId?: number | null; uHeight?: number },
  ): FakeRack;
  addDeviceType(
    input: {
      model: string;
      manufacturer: string;
      slug?: string;
      uHeight?: number;
      isFullDepth?: boolean;
    },
  ): FakeDeviceType;
  addRole(input: { name: string; slug?: string }): FakeRole;
  addTenant(input: { name: string; slug?: string }): FakeTenant;
  addIpamRole(input: { name: string; slug?: string; weight?: number }): FakeIpamRole;
  addPrefix(
    input: { prefix: string; description?: string; isPool?: boolean; roleId?: number | null },
  ): FakePrefix;
  /** Adds a device through the same validation as the API; throws on a rule violation. */
  addDevice(input: {
    name: string | null;
    siteId: number;
    deviceTypeId: number;
    roleId: number;
    locationId?: number | null;
    rackId?: number | null;
    position?: number | null;
    face?: "front" | "rear";
    tenantId?: number | null;
    status?: string;
  }): FakeDevice;
  /** Many devices, each checked like `addDevice` (a large site for the bench, in seconds). */
  addDevices(inputs: Parameters<FakeNetbox["addDevice"]>[0][]): FakeDevice[];
  addInterface(
    input: { deviceId: number; name: string; type?: string; mgmtOnly?: boolean; mac?: string },
  ): FakeInterface;
  addIp(
    input: { address: string; description?: string; status?: string; interfaceId?: number | null },
  ): FakeIpAddress;
}

/** Ids of the seeded objects, for tests that register into the sample site. */
export interface NetboxSeedIds {
  siteId: number;
  locationId: number;
  rackIds: Record<string, number>;
  deviceTypeIds: Record<string, number>;
  roleIds: Record<string, number>;
  tenantId: number;
  bmcPrefixId: number;
}
