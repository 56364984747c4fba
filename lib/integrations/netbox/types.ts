/** The Netbox client's public types. */
import { type RetryPolicy } from "../http.ts";
import type { Metrics } from "../../observability/metrics.ts";

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
   * Every device of the given roles and sites (slugs or ids; none given = all) and, when given,
   * of these names, following Netbox's pages (`limit`/`offset`, `next`), for the inventory list.
   */
  listDevices(
    filter?: { roles?: string[]; sites?: string[]; names?: string[] },
  ): Promise<InventoryDevice[]>;
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
   * repeated (that could allocate twice): the interface's IPs are checked first. Allocations from
   * one prefix that arrive while one is in flight go together in one request (one hold of
   * Netbox's allocation lock), each with its own answer.
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
