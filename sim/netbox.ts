/**
 * In-memory Netbox REST API for tests and the demo: DCIM, IPAM and MAC objects with Netbox's own
 * validation rules, error bodies, pagination and serialised IP allocation.
 */
import { Faults, logRequest } from "./faults.ts";
import { intToIpv4, ipv4ToInt } from "../lib/domain/ipv4.ts";
import { type NetboxSeedIds, seedNetbox } from "./netbox_seed.ts";

/** The v1 token the fake accepts unless another is given. */
export const FAKE_NETBOX_TOKEN = "0123456789abcdef0123456789abcdef01234567";

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
  /** Adds the sample site, racks, device types, roles, tenant and BMC prefix (see netbox_seed.ts). */
  seed?: boolean;
}

/** A running fake: its handler, faults, state maps and helpers that add objects directly. */
export interface FakeNetbox {
  handler: (req: Request) => Promise<Response>;
  faults: Faults;
  version: string;
  token: string;
  /** True when the version has `dcim.MACAddress` objects (4.2+). */
  macObjects: boolean;
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
  addInterface(
    input: { deviceId: number; name: string; type?: string; mgmtOnly?: boolean; mac?: string },
  ): FakeInterface;
  addIp(
    input: { address: string; description?: string; status?: string; interfaceId?: number | null },
  ): FakeIpAddress;
}

/** A 400 with Netbox's `{"field": ["message"]}` body. */
class Invalid extends Error {
  constructor(readonly fields: Record<string, string[]>) {
    super(JSON.stringify(fields));
  }
}

/** Any other non-2xx answer with a DRF `{"detail": …}` body. */
class HttpFailure extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(JSON.stringify(body));
  }
}

const NOT_FOUND = () => new HttpFailure(404, { detail: "Not found." });

function invalid(field: string, message: string): never {
  throw new Invalid({ [field]: [message] });
}

/** Collects field errors the way Django's full_clean does, then throws them together. */
class Errors {
  fields: Record<string, string[]> = {};
  add(field: string, message: string) {
    (this.fields[field] ??= []).push(message);
  }
  has(field?: string): boolean {
    return field ? field in this.fields : Object.keys(this.fields).length > 0;
  }
  throwIfAny() {
    if (this.has()) throw new Invalid(this.fields);
  }
}

const DEVICE_STATUSES = [
  "offline",
  "active",
  "planned",
  "staged",
  "failed",
  "inventory",
  "decommissioning",
];
const IP_STATUSES = ["active", "reserved", "deprecated", "dhcp", "slaac"];
const INTERFACE_TYPES = [
  "virtual",
  "bridge",
  "lag",
  "100base-tx",
  "1000base-t",
  "1000base-tx",
  "2.5gbase-t",
  "5gbase-t",
  "10gbase-t",
  "1000base-x-sfp",
  "10gbase-x-sfpp",
  "25gbase-x-sfp28",
  "40gbase-x-qsfpp",
  "100gbase-x-qsfp28",
  "other",
];
const PAGINATE_COUNT = 50;
const MAX_PAGE_SIZE = 1000;
const PAGING_PARAMS = new Set(["limit", "offset", "brief", "fields", "omit", "ordering", "format"]);

function slugify(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_]+/g, "-").replace(/^-+|-+$/g, "");
}

function label(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}

/** Parses "a.b.c" version strings (also "v4.3.1-Docker-…") into comparable numbers. */
function versionAtLeast(version: string, want: [number, number, number]): boolean {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  const have = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i];
  return true;
}

/** Normalises any EUI-48 notation to lower-case colon form, or null. */
function normalMac(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const hex = value.trim().replace(/[:.\-]/g, "");
  if (!/^[0-9a-f]{12}$/i.test(hex)) return null;
  return hex.toLowerCase().match(/../g)!.join(":");
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function validIpv4(ip: string): boolean {
  const m = IPV4.exec(ip);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

interface Cidr {
  ip: string;
  len: number;
  n: number;
  network: number;
  broadcast: number;
}

/** Parses an IPv4 CIDR (`10.0.0.5/24`); the mask is required unless `defaultLen` is given. */
function parseCidr(value: string, defaultLen?: number): Cidr | null {
  const [ip, lenText, extra] = value.trim().split("/");
  if (extra !== undefined || !validIpv4(ip)) return null;
  const len = lenText === undefined ? defaultLen : Number(lenText);
  if (len === undefined || !Number.isInteger(len) || len < 0 || len > 32) return null;
  const n = ipv4ToInt(ip);
  const size = 2 ** (32 - len);
  const network = Math.floor(n / size) * size;
  return { ip, len, n, network, broadcast: network + size - 1 };
}

/** Serialised by Python's repr of a dict, as Netbox's "Related object not found" message shows. */
function pyRepr(obj: Record<string, unknown>): string {
  const parts = Object.entries(obj).map(([k, v]) =>
    `'${k}': ${typeof v === "string" ? `'${v}'` : JSON.stringify(v)}`
  );
  return `{${parts.join(", ")}}`;
}

/** Creates the fake; pass `seed: true` for the sample datacenter used by the demo. */
export function createFakeNetbox(options: FakeNetboxOptions = {}): FakeNetbox {
  const version = options.version ?? "4.3.1";
  const token = options.token ?? FAKE_NETBOX_TOKEN;
  const macObjects = versionAtLeast(version, [4, 2, 0]);
  const faults = new Faults();
  const requestLog: string[] = [];

  const sites = new Map<number, FakeSite>();
  const locations = new Map<number, FakeLocation>();
  const racks = new Map<number, FakeRack>();
  const manufacturers = new Map<number, FakeManufacturer>();
  const deviceTypes = new Map<number, FakeDeviceType>();
  const roles = new Map<number, FakeRole>();
  const tenants = new Map<number, FakeTenant>();
  const ipamRoles = new Map<number, FakeIpamRole>();
  const prefixes = new Map<number, FakePrefix>();
  const devices = new Map<number, FakeDevice>();
  const interfaces = new Map<number, FakeInterface>();
  const macAddresses = new Map<number, FakeMacAddress>();
  const ipAddresses = new Map<number, FakeIpAddress>();

  // One sequence per table, like PostgreSQL.
  const sequences = new Map<Map<number, unknown>, number>();
  function nextId(table: Map<number, unknown>): number {
    const id = (sequences.get(table) ?? 0) + 1;
    sequences.set(table, id);
    return id;
  }

  /** Netbox's advisory lock around IP allocation: one allocation at a time. */
  let allocationLock: Promise<unknown> = Promise.resolve();
  function withAllocationLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = allocationLock.then(fn, fn);
    allocationLock = run.catch(() => {});
    return run;
  }

  // ---------- reference objects ----------

  function uniqueNamed<T extends { name: string; slug: string }>(
    table: Map<number, T>,
    name: string,
    slug: string,
    what: string,
    scope: (o: T) => boolean = () => true,
  ) {
    const errors = new Errors();
    if (!name) errors.add("name", "This field is required.");
    if (!slug) errors.add("slug", "This field is required.");
    for (const o of table.values()) {
      if (!scope(o)) continue;
      if (name && o.name.toLowerCase() === name.toLowerCase()) {
        errors.add("name", `${what} with this name already exists.`);
      }
      if (slug && o.slug === slug) errors.add("slug", `${what} with this slug already exists.`);
    }
    errors.throwIfAny();
  }

  function addSite(input: { name: string; slug?: string; description?: string }): FakeSite {
    const slug = input.slug ?? slugify(input.name);
    uniqueNamed(sites, input.name, slug, "site");
    const site = {
      id: nextId(sites),
      name: input.name,
      slug,
      description: input.description ?? "",
    };
    sites.set(site.id, site);
    return site;
  }

  function addLocation(input: { name: string; siteId: number; slug?: string }): FakeLocation {
    if (!sites.has(input.siteId)) {
      invalid("site", `Invalid pk "${input.siteId}" - object does not exist.`);
    }
    const slug = input.slug ?? slugify(input.name);
    uniqueNamed(locations, input.name, slug, "location", (o) => o.site_id === input.siteId);
    const loc = {
      id: nextId(locations),
      name: input.name,
      slug,
      site_id: input.siteId,
      description: "",
    };
    locations.set(loc.id, loc);
    return loc;
  }

  function addRack(
    input: { name: string; siteId: number; locationId?: number | null; uHeight?: number },
  ): FakeRack {
    if (!input.name) invalid("name", "This field is required.");
    if (!sites.has(input.siteId)) {
      invalid("site", `Invalid pk "${input.siteId}" - object does not exist.`);
    }
    const locationId = input.locationId ?? null;
    if (locationId !== null) {
      const loc = locations.get(locationId);
      if (!loc) invalid("location", `Invalid pk "${locationId}" - object does not exist.`);
      if (loc.site_id !== input.siteId) {
        invalid(
          "location",
          `Location "${loc.name}" does not belong to site "${sites.get(input.siteId)!.name}".`,
        );
      }
    }
    for (const r of racks.values()) {
      if (r.location_id === locationId && r.site_id === input.siteId && r.name === input.name) {
        invalid("__all__", "Rack with this Location and Name already exists.");
      }
    }
    const uHeight = input.uHeight ?? 42;
    if (!Number.isInteger(uHeight) || uHeight < 1 || uHeight > 100) {
      invalid("u_height", "Ensure this value is less than or equal to 100.");
    }
    const rack = {
      id: nextId(racks),
      name: input.name,
      site_id: input.siteId,
      location_id: locationId,
      u_height: uHeight,
      description: "",
    };
    racks.set(rack.id, rack);
    return rack;
  }

  function addDeviceType(input: {
    model: string;
    manufacturer: string;
    slug?: string;
    uHeight?: number;
    isFullDepth?: boolean;
  }): FakeDeviceType {
    let mfr = [...manufacturers.values()].find((m) =>
      m.name === input.manufacturer || m.slug === input.manufacturer
    );
    if (!mfr) {
      mfr = {
        id: nextId(manufacturers),
        name: input.manufacturer,
        slug: slugify(input.manufacturer),
        description: "",
      };
      manufacturers.set(mfr.id, mfr);
    }
    const slug = input.slug ?? slugify(input.model);
    // Slug and model are unique per manufacturer only (constraint unique_manufacturer_slug).
    for (const t of deviceTypes.values()) {
      if (t.manufacturer_id === mfr.id && (t.slug === slug || t.model === input.model)) {
        invalid("__all__", "Device type with this Manufacturer and Slug already exists.");
      }
    }
    const type = {
      id: nextId(deviceTypes),
      manufacturer_id: mfr.id,
      model: input.model,
      slug,
      u_height: input.uHeight ?? 1,
      is_full_depth: input.isFullDepth ?? true,
      description: "",
    };
    deviceTypes.set(type.id, type);
    return type;
  }

  function addRole(input: { name: string; slug?: string }): FakeRole {
    const slug = input.slug ?? slugify(input.name);
    uniqueNamed(roles, input.name, slug, "device role");
    const role = { id: nextId(roles), name: input.name, slug, description: "" };
    roles.set(role.id, role);
    return role;
  }

  function addTenant(input: { name: string; slug?: string }): FakeTenant {
    const slug = input.slug ?? slugify(input.name);
    uniqueNamed(tenants, input.name, slug, "tenant");
    const tenant = { id: nextId(tenants), name: input.name, slug, description: "" };
    tenants.set(tenant.id, tenant);
    return tenant;
  }

  function addIpamRole(input: { name: string; slug?: string; weight?: number }): FakeIpamRole {
    const slug = input.slug ?? slugify(input.name);
    uniqueNamed(ipamRoles, input.name, slug, "role");
    const role = {
      id: nextId(ipamRoles),
      name: input.name,
      slug,
      description: "",
      weight: input.weight ?? 1000,
    };
    ipamRoles.set(role.id, role);
    return role;
  }

  function addPrefix(
    input: { prefix: string; description?: string; isPool?: boolean; roleId?: number | null },
  ): FakePrefix {
    const c = parseCidr(input.prefix);
    if (!c) invalid("prefix", "CIDR mask (e.g. /24) is required.");
    const roleId = input.roleId ?? null;
    if (roleId !== null && !ipamRoles.has(roleId)) {
      invalid("role", `Invalid pk "${roleId}" - object does not exist.`);
    }
    // Netbox stores the network form of a prefix (10.16.28.5/24 → 10.16.28.0/24).
    const prefix = {
      id: nextId(prefixes),
      prefix: `${intToIpv4(c.network)}/${c.len}`,
      description: input.description ?? "",
      is_pool: input.isPool ?? false,
      status: "active",
      role_id: roleId,
    };
    prefixes.set(prefix.id, prefix);
    return prefix;
  }

  // ---------- devices ----------

  /** First and last unit a device occupies, or null when it takes no rack units. */
  function unitsOf(d: FakeDevice): [number, number] | null {
    if (d.rack_id === null || d.position === null) return null;
    const h = deviceTypes.get(d.device_type_id)?.u_height ?? 1;
    if (h === 0) return null;
    return [d.position, d.position + h - 1];
  }

  /** Device.clean() plus the unique constraints, collected like full_clean(). */
  function validateDevice(d: FakeDevice, selfId: number | null) {
    const errors = new Errors();
    const site = sites.get(d.site_id)!;
    const rack = d.rack_id === null ? null : racks.get(d.rack_id)!;
    const location = d.location_id === null ? null : locations.get(d.location_id)!;
    const type = deviceTypes.get(d.device_type_id)!;
    if (d.name !== null && d.name.length > 64) {
      errors.add("name", "Ensure this field has no more than 64 characters.");
    }
    if (!DEVICE_STATUSES.includes(d.status)) {
      errors.add("status", `"${d.status}" is not a valid choice.`);
    }
    if (!["", "front", "rear"].includes(d.face)) {
      errors.add("face", `"${d.face}" is not a valid choice.`);
    }
    if (d.position !== null) {
      if (typeof d.position !== "number" || Number.isNaN(d.position)) {
        errors.add("position", "A valid number is required.");
      } else if (d.position < 1) {
        errors.add("position", "Ensure this value is greater than or equal to 1.");
      } else if (d.position % 0.5 !== 0) {
        errors.add("position", "Position must be in increments of 0.5 rack units.");
      }
    }
    errors.throwIfAny();

    // Device.clean(): the first problem wins, as the model raises on it.
    if (rack && rack.site_id !== site.id) {
      invalid("rack", `Rack ${rack.name} does not belong to site ${site.name}.`);
    }
    if (location && location.site_id !== site.id) {
      invalid("location", `Location ${location.name} does not belong to site ${site.name}.`);
    }
    if (rack && location && rack.location_id !== location.id) {
      invalid("rack", `Rack ${rack.name} does not belong to location ${location.name}.`);
    } else if (rack) {
      d.location_id = rack.location_id;
    }
    if (!rack) {
      if (d.face) invalid("face", "Cannot select a rack face without assigning a rack.");
      if (d.position !== null) {
        invalid("position", "Cannot select a rack position without assigning a rack.");
      }
    }
    if (d.position !== null && !d.face) {
      invalid("face", "Must specify rack face when defining rack position.");
    }
    if (d.position !== null && type.u_height === 0) {
      invalid(
        "position",
        `A 0U device type (${type.model}) cannot be assigned to a rack position.`,
      );
    }
    if (rack && d.position !== null) {
      const top = d.position + type.u_height - 1;
      const clash = top > rack.u_height || [...devices.values()].some((o) => {
        if (o.id === selfId || o.rack_id !== rack.id) return false;
        const units = unitsOf(o);
        if (!units) return false;
        const otherFull = deviceTypes.get(o.device_type_id)?.is_full_depth ?? true;
        const sameFace = type.is_full_depth || otherFull || o.face === d.face;
        return sameFace && units[0] <= top && units[1] >= d.position!;
      });
      if (clash) {
        invalid(
          "position",
          `U${d.position} is already occupied or does not have sufficient space to accommodate ` +
            `this device type: ${type.model} (${type.u_height}U)`,
        );
      }
    }
    if (d.oob_ip_id !== null) {
      const ip = ipAddresses.get(d.oob_ip_id)!;
      const iface = ip.assigned_object_type === "dcim.interface" && ip.assigned_object_id !== null
        ? interfaces.get(ip.assigned_object_id)
        : undefined;
      if (!iface || iface.device_id !== selfId) {
        invalid(
          "oob_ip",
          `The specified IP address (${ip.address}) is not assigned to this device.`,
        );
      }
    }
    if (d.name !== null) {
      const lower = d.name.toLowerCase();
      const dup = [...devices.values()].some((o) =>
        o.id !== selfId && o.site_id === d.site_id && o.name?.toLowerCase() === lower &&
        o.tenant_id === d.tenant_id
      );
      if (dup) invalid("__all__", "Device name must be unique per site.");
    }
  }

  function resolveRef<T extends { id: number }>(
    field: string,
    value: unknown,
    table: Map<number, T>,
    attrs: (o: T) => Record<string, unknown>,
  ): T | null {
    if (value === null || value === undefined) return null;
    let pk: unknown = value;
    if (typeof value === "object" && !Array.isArray(value)) {
      const query = value as Record<string, unknown>;
      if ("id" in query) pk = query.id;
      else {
        const found = [...table.values()].filter((o) => {
          const a = attrs(o);
          return Object.entries(query).every(([k, v]) => a[k] === v);
        });
        if (found.length === 0) {
          invalid(
            field,
            `Related object not found using the provided attributes: ${pyRepr(query)}`,
          );
        }
        if (found.length > 1) {
          invalid(field, `Multiple objects match the provided attributes: ${pyRepr(query)}`);
        }
        return found[0];
      }
    }
    const id = typeof pk === "number"
      ? pk
      : typeof pk === "string" && /^\d+$/.test(pk)
      ? Number(pk)
      : NaN;
    if (Number.isNaN(id)) {
      invalid(
        field,
        `Incorrect type. Expected pk value, received ${
          typeof pk === "string" ? "str" : typeof pk
        }.`,
      );
    }
    const o = table.get(id);
    if (!o) invalid(field, `Invalid pk "${id}" - object does not exist.`);
    return o;
  }

  const siteAttrs = (o: FakeSite) => ({ name: o.name, slug: o.slug });
  const rackAttrs = (o: FakeRack) => ({ name: o.name });
  const typeAttrs = (o: FakeDeviceType) => ({ model: o.model, slug: o.slug });
  const ipAttrs = (o: FakeIpAddress) => ({ address: o.address });
  const macAttrs = (o: FakeMacAddress) => ({ mac_address: o.mac_address });

  /** Applies a device create/PATCH body onto `base`, resolving references; throws field errors. */
  function deviceFromBody(body: Record<string, unknown>, base: FakeDevice | null): FakeDevice {
    const errors = new Errors();
    const refs: Record<string, unknown> = {};
    const tryRef = <T extends { id: number }>(
      field: string,
      table: Map<number, T>,
      attrs: (o: T) => Record<string, unknown>,
    ) => {
      if (!(field in body)) return;
      try {
        refs[field] = resolveRef(field, body[field], table, attrs);
      } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        for (const [k, v] of Object.entries(e.fields)) v.forEach((m) => errors.add(k, m));
      }
    };
    if (!base) {
      for (const field of ["device_type", "role", "site"]) {
        if (body[field] === undefined) errors.add(field, "This field is required.");
        else if (body[field] === null) errors.add(field, "This field may not be null.");
      }
    }
    tryRef("device_type", deviceTypes, typeAttrs);
    tryRef("role", roles, siteAttrs);
    tryRef("site", sites, siteAttrs);
    tryRef("location", locations, siteAttrs);
    tryRef("rack", racks, rackAttrs);
    tryRef("tenant", tenants, siteAttrs);
    tryRef("oob_ip", ipAddresses, ipAttrs);
    if ("name" in body && body.name !== null && typeof body.name !== "string") {
      errors.add("name", "Not a valid string.");
    }
    if ("position" in body && body.position !== null) {
      const p = typeof body.position === "string" ? Number(body.position) : body.position;
      if (typeof p !== "number" || Number.isNaN(p)) {
        errors.add("position", "A valid number is required.");
      } else if (p < 0.5) {
        errors.add("position", "Ensure this value is greater than or equal to 0.5.");
      }
    }
    errors.throwIfAny();
    const id = (o: unknown) => (o as { id: number } | null)?.id ?? null;
    const d: FakeDevice = base ? { ...base } : {
      id: 0,
      name: null,
      site_id: 0,
      location_id: null,
      rack_id: null,
      position: null,
      face: "",
      device_type_id: 0,
      role_id: 0,
      tenant_id: null,
      status: "active",
      oob_ip_id: null,
      serial: "",
      description: "",
    };
    if ("name" in body) d.name = (body.name as string | null) || null;
    if ("device_type" in body) d.device_type_id = id(refs.device_type)!;
    if ("role" in body) d.role_id = id(refs.role)!;
    if ("site" in body) d.site_id = id(refs.site)!;
    if ("location" in body) d.location_id = id(refs.location);
    if ("rack" in body) d.rack_id = id(refs.rack);
    if ("tenant" in body) d.tenant_id = id(refs.tenant);
    if ("oob_ip" in body) d.oob_ip_id = id(refs.oob_ip);
    if ("position" in body) d.position = body.position === null ? null : Number(body.position);
    if ("face" in body) {
      const f = body.face as unknown;
      d.face = (typeof f === "object" && f !== null
        ? (f as { value: string }).value
        : f ?? "") as FakeDevice["face"];
    }
    if ("status" in body) d.status = String(body.status);
    if ("serial" in body) d.serial = String(body.serial ?? "");
    if ("description" in body) d.description = String(body.description ?? "");
    return d;
  }

  function addDevice(input: Parameters<FakeNetbox["addDevice"]>[0]): FakeDevice {
    const d = deviceFromBody({
      name: input.name,
      site: input.siteId,
      device_type: input.deviceTypeId,
      role: input.roleId,
      location: input.locationId ?? null,
      rack: input.rackId ?? null,
      position: input.position ?? null,
      face: input.face ?? (input.position ? "front" : ""),
      tenant: input.tenantId ?? null,
      status: input.status ?? "active",
    }, null);
    validateDevice(d, null);
    d.id = nextId(devices);
    devices.set(d.id, d);
    return d;
  }

  function deleteDevice(d: FakeDevice) {
    // Interfaces cascade; their GenericRelations (IPs, MAC objects) are deleted with them.
    for (const iface of [...interfaces.values()]) {
      if (iface.device_id === d.id) deleteInterface(iface);
    }
    devices.delete(d.id);
  }

  // ---------- interfaces and MACs ----------

  function assignedInterface(
    o: { assigned_object_type: string | null; assigned_object_id: number | null },
  ) {
    return o.assigned_object_type === "dcim.interface" && o.assigned_object_id !== null
      ? interfaces.get(o.assigned_object_id) ?? null
      : null;
  }

  function interfaceMac(iface: FakeInterface): string | null {
    if (!macObjects) return iface.mac_address;
    const primary = iface.primary_mac_address_id === null
      ? null
      : macAddresses.get(iface.primary_mac_address_id);
    return primary?.mac_address ?? null;
  }

  function interfaceMacs(iface: FakeInterface): string[] {
    if (!macObjects) return iface.mac_address ? [iface.mac_address] : [];
    return [...macAddresses.values()].filter((m) => assignedInterface(m)?.id === iface.id).map((
      m,
    ) => m.mac_address);
  }

  function interfaceFromBody(body: Record<string, unknown>, base: FakeInterface | null): {
    iface: FakeInterface;
    primaryMac: FakeMacAddress | null | undefined;
  } {
    const errors = new Errors();
    let device: FakeDevice | null = null;
    if (!base) {
      for (const field of ["device", "name", "type"]) {
        if (body[field] === undefined || body[field] === null || body[field] === "") {
          errors.add(field, "This field is required.");
        }
      }
    }
    if (body.device != null) {
      try {
        device = resolveRef("device", body.device, devices, (o) => ({ name: o.name }));
      } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        errors.add("device", e.fields.device[0]);
      }
    }
    if ("name" in body && typeof body.name === "string" && body.name.length > 64) {
      errors.add("name", "Ensure this field has no more than 64 characters.");
    }
    if ("type" in body && body.type != null && !INTERFACE_TYPES.includes(String(body.type))) {
      errors.add("type", `"${body.type}" is not a valid choice.`);
    }
    for (const field of ["mgmt_only", "enabled"]) {
      if (field in body && typeof body[field] !== "boolean") {
        errors.add(field, "Must be a valid boolean.");
      }
    }
    let legacyMac: string | null | undefined;
    if (!macObjects && "mac_address" in body) {
      // Before 4.2 the MAC is a writable interface field; 4.2+ ignores it (read-only).
      if (body.mac_address === null || body.mac_address === "") legacyMac = null;
      else {
        legacyMac = normalMac(body.mac_address);
        if (!legacyMac) {
          errors.add("mac_address", `Invalid MAC address format: ${body.mac_address}`);
        }
      }
    }
    let primaryMac: FakeMacAddress | null | undefined;
    if (macObjects && "primary_mac_address" in body) {
      try {
        primaryMac = resolveRef(
          "primary_mac_address",
          body.primary_mac_address,
          macAddresses,
          macAttrs,
        );
      } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        errors.add("primary_mac_address", e.fields.primary_mac_address[0]);
      }
    }
    errors.throwIfAny();
    const iface: FakeInterface = base ? { ...base } : {
      id: 0,
      device_id: 0,
      name: "",
      type: "",
      enabled: true,
      mgmt_only: false,
      description: "",
      mac_address: null,
      primary_mac_address_id: null,
    };
    if (device) iface.device_id = device.id;
    if (typeof body.name === "string") iface.name = body.name;
    if (typeof body.type === "string") iface.type = body.type;
    if (typeof body.mgmt_only === "boolean") iface.mgmt_only = body.mgmt_only;
    if (typeof body.enabled === "boolean") iface.enabled = body.enabled;
    if ("description" in body) iface.description = String(body.description ?? "");
    if (legacyMac !== undefined) iface.mac_address = legacyMac;
    if (primaryMac !== undefined) iface.primary_mac_address_id = primaryMac?.id ?? null;
    for (const o of interfaces.values()) {
      if (o.id !== iface.id && o.device_id === iface.device_id && o.name === iface.name) {
        invalid("non_field_errors", "The fields device, name must make a unique set.");
      }
    }
    return { iface, primaryMac };
  }

  /** Interface.clean() for the primary MAC: it must be assigned to this interface. */
  function checkPrimaryMac(
    iface: FakeInterface,
    mac: FakeMacAddress | null | undefined,
    creating: boolean,
  ) {
    if (!mac) return;
    const owner = assignedInterface(mac);
    // 4.4.2+: an unassigned MAC given on create is assigned to the new interface by a signal.
    if (!owner && creating && versionAtLeast(version, [4, 4, 2])) return;
    if (owner?.id !== iface.id) {
      invalid(
        "primary_mac_address",
        `MAC address ${mac.mac_address.toUpperCase()} is assigned to a different interface (${
          owner ? owner.name : "None"
        }).`,
      );
    }
    for (const o of interfaces.values()) {
      if (o.id !== iface.id && o.primary_mac_address_id === mac.id) {
        invalid("primary_mac_address", "interface with this primary mac address already exists.");
      }
    }
  }

  function createInterface(body: Record<string, unknown>): FakeInterface {
    const { iface, primaryMac } = interfaceFromBody(body, null);
    checkPrimaryMac(iface, primaryMac, true);
    iface.id = nextId(interfaces);
    interfaces.set(iface.id, iface);
    if (primaryMac && !assignedInterface(primaryMac)) {
      primaryMac.assigned_object_type = "dcim.interface";
      primaryMac.assigned_object_id = iface.id;
    }
    return iface;
  }

  function addInterface(
    input: { deviceId: number; name: string; type?: string; mgmtOnly?: boolean; mac?: string },
  ): FakeInterface {
    const iface = createInterface({
      device: input.deviceId,
      name: input.name,
      type: input.type ?? "1000base-t",
      mgmt_only: input.mgmtOnly ?? false,
      ...(!macObjects && input.mac ? { mac_address: input.mac } : {}),
    });
    if (macObjects && input.mac) {
      const mac = createMac({
        mac_address: input.mac,
        assigned_object_type: "dcim.interface",
        assigned_object_id: iface.id,
      });
      iface.primary_mac_address_id = mac.id;
    }
    return iface;
  }

  function deleteInterface(iface: FakeInterface) {
    for (const m of [...macAddresses.values()]) {
      if (assignedInterface(m)?.id === iface.id) macAddresses.delete(m.id);
    }
    for (const ip of [...ipAddresses.values()]) {
      if (assignedInterface(ip)?.id === iface.id) deleteIp(ip);
    }
    interfaces.delete(iface.id);
  }

  function assignmentFromBody(
    body: Record<string, unknown>,
    errors: Errors,
  ): { type: string | null; id: number | null } | undefined {
    if (!("assigned_object_type" in body) && !("assigned_object_id" in body)) return undefined;
    const type = (body.assigned_object_type ?? null) as string | null;
    const id = body.assigned_object_id == null ? null : Number(body.assigned_object_id);
    if (type === null && id === null) return { type: null, id: null };
    if (type !== "dcim.interface") {
      errors.add("assigned_object_type", `Object type "${type}" is not supported here.`);
      return undefined;
    }
    if (id === null || !interfaces.has(id)) {
      errors.add("assigned_object_id", `Related object not found: dcim.interface ${id}`);
      return undefined;
    }
    return { type, id };
  }

  function createMac(body: Record<string, unknown>): FakeMacAddress {
    const errors = new Errors();
    let mac: string | null = null;
    if (body.mac_address == null || body.mac_address === "") {
      errors.add("mac_address", "This field is required.");
    } else {
      mac = normalMac(body.mac_address);
      if (!mac) errors.add("mac_address", `Invalid MAC address format: ${body.mac_address}`);
    }
    const assignment = assignmentFromBody(body, errors);
    errors.throwIfAny();
    const record: FakeMacAddress = {
      id: nextId(macAddresses),
      mac_address: mac!,
      assigned_object_type: assignment?.type ?? null,
      assigned_object_id: assignment?.id ?? null,
      description: String(body.description ?? ""),
    };
    macAddresses.set(record.id, record);
    return record;
  }

  function updateMac(mac: FakeMacAddress, body: Record<string, unknown>) {
    const errors = new Errors();
    let value = mac.mac_address;
    if ("mac_address" in body) {
      const v = normalMac(body.mac_address);
      if (!v) errors.add("mac_address", `Invalid MAC address format: ${body.mac_address}`);
      else value = v;
    }
    const assignment = assignmentFromBody(body, errors);
    errors.throwIfAny();
    if (assignment) {
      const original = assignedInterface(mac);
      // MACAddress.clean() refuses to move a MAC away from an interface that has a primary MAC.
      if (original && original.primary_mac_address_id !== null) {
        if (assignment.id === null) {
          invalid(
            "__all__",
            "Cannot unassign MAC Address while it is designated as the primary MAC for an object",
          );
        } else if (assignment.id !== original.id) {
          invalid(
            "__all__",
            "Cannot reassign MAC Address while it is designated as the primary MAC for an object",
          );
        }
      }
      mac.assigned_object_type = assignment.type;
      mac.assigned_object_id = assignment.id;
    }
    mac.mac_address = value;
    if ("description" in body) mac.description = String(body.description ?? "");
  }

  function deleteMac(mac: FakeMacAddress) {
    for (const iface of interfaces.values()) {
      if (iface.primary_mac_address_id === mac.id) iface.primary_mac_address_id = null;
    }
    macAddresses.delete(mac.id);
  }

  // ---------- IP addresses ----------

  function hostOf(address: string): string {
    return address.split("/")[0];
  }

  /** IPAddress.clean() and the global uniqueness check. */
  function validateIp(ip: FakeIpAddress, selfId: number | null, original: FakeIpAddress | null) {
    const c = parseCidr(ip.address)!;
    if (c.len === 0) invalid("address", "Cannot create IP address with /0 mask.");
    const host = hostOf(ip.address);
    const dup = [...ipAddresses.values()].find((o) =>
      o.id !== selfId && hostOf(o.address) === host
    );
    if (dup) invalid("address", `Duplicate IP address found in global table: ${dup.address}`);
    if (!IP_STATUSES.includes(ip.status)) {
      invalid("status", `"${ip.status}" is not a valid choice.`);
    }
    if (assignedInterface(ip) && c.len < 31) {
      if (c.n === c.network) {
        invalid(
          "address",
          `${ip.address} is a network ID, which may not be assigned to an interface.`,
        );
      }
      if (c.n === c.broadcast) {
        invalid(
          "address",
          `${ip.address} is a broadcast address, which may not be assigned to an interface.`,
        );
      }
    }
    if (original) {
      const before = assignedInterface(original);
      const after = assignedInterface(ip);
      const parent = before ? devices.get(before.device_id) : undefined;
      if (parent && parent.oob_ip_id === original.id && after?.device_id !== parent.id) {
        invalid(
          "__all__",
          "Cannot reassign IP address while it is designated as the OOB IP for the parent object",
        );
      }
    }
  }

  function ipFromBody(body: Record<string, unknown>, base: FakeIpAddress | null): FakeIpAddress {
    const errors = new Errors();
    let address = base?.address ?? "";
    if (!base || "address" in body) {
      if (body.address == null || body.address === "") {
        errors.add("address", "This field is required.");
      } else {
        const c = parseCidr(String(body.address));
        if (!c) {
          errors.add(
            "address",
            String(body.address).includes("/")
              ? `Invalid IP address format: ${body.address}`
              : "CIDR mask (e.g. /24) is required.",
          );
        } else address = `${c.ip}/${c.len}`;
      }
    }
    const assignment = assignmentFromBody(body, errors);
    let tenant: FakeTenant | null = null;
    if ("tenant" in body) {
      try {
        tenant = resolveRef("tenant", body.tenant, tenants, siteAttrs) as FakeTenant | null;
      } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        for (const [k, v] of Object.entries(e.fields)) v.forEach((m) => errors.add(k, m));
      }
    }
    errors.throwIfAny();
    const ip: FakeIpAddress = base ? { ...base } : {
      id: 0,
      address,
      status: "active",
      dns_name: "",
      description: "",
      tenant_id: null,
      assigned_object_type: null,
      assigned_object_id: null,
    };
    if ("tenant" in body) ip.tenant_id = tenant?.id ?? null;
    ip.address = address;
    if ("status" in body) ip.status = String(body.status);
    if ("dns_name" in body) ip.dns_name = String(body.dns_name ?? "");
    if ("description" in body) ip.description = String(body.description ?? "");
    if (assignment) {
      ip.assigned_object_type = assignment.type;
      ip.assigned_object_id = assignment.id;
    }
    return ip;
  }

  function createIp(body: Record<string, unknown>): FakeIpAddress {
    const ip = ipFromBody(body, null);
    validateIp(ip, null, null);
    ip.id = nextId(ipAddresses);
    ipAddresses.set(ip.id, ip);
    return ip;
  }

  function addIp(
    input: { address: string; description?: string; status?: string; interfaceId?: number | null },
  ): FakeIpAddress {
    return createIp({
      address: input.address,
      description: input.description ?? "",
      status: input.status ?? "active",
      ...(input.interfaceId != null
        ? { assigned_object_type: "dcim.interface", assigned_object_id: input.interfaceId }
        : {}),
    });
  }

  function deleteIp(ip: FakeIpAddress) {
    for (const d of devices.values()) if (d.oob_ip_id === ip.id) d.oob_ip_id = null;
    ipAddresses.delete(ip.id);
  }

  /** Free host addresses of a prefix, lowest first (network/broadcast excluded unless a pool). */
  function* freeAddresses(prefix: FakePrefix): Generator<string> {
    const c = parseCidr(prefix.prefix)!;
    const used = new Set<number>();
    for (const ip of ipAddresses.values()) {
      const n = ipv4ToInt(hostOf(ip.address));
      if (n >= c.network && n <= c.broadcast) used.add(n);
    }
    let first = c.network;
    let last = c.broadcast;
    if (c.len < 31 && !prefix.is_pool) {
      first++;
      last--;
    }
    for (let n = first; n <= last; n++) if (!used.has(n)) yield `${intToIpv4(n)}/${c.len}`;
  }

  // ---------- serialisers ----------

  function serializers(origin: string) {
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
      id === null ? null : named("dcim/sites", sites.get(id)!);
    const nestedLocation = (id: number | null) =>
      id === null ? null : { ...named("dcim/locations", locations.get(id)!), _depth: 0 };
    const nestedRack = (id: number | null) => {
      if (id === null) return null;
      const r = racks.get(id)!;
      return {
        id,
        url: url("dcim/racks", id),
        display: r.name,
        name: r.name,
        description: r.description,
      };
    };
    const nestedTenant = (id: number | null) =>
      id === null ? null : named("tenancy/tenants", tenants.get(id)!);
    const nestedDevice = (id: number) => {
      const d = devices.get(id)!;
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
      const ip = ipAddresses.get(id)!;
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
      const m = macAddresses.get(id)!;
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
      const i = interfaces.get(id)!;
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
      manufacturer: named("dcim/manufacturers", manufacturers.get(t.manufacturer_id)!),
      model: t.model,
      slug: t.slug,
      description: t.description,
    });
    return {
      site: (o: FakeSite) => ({
        ...named("dcim/sites", o),
        status: { value: "active", label: "Active" },
      }),
      location: (o: FakeLocation) => ({
        ...named("dcim/locations", o),
        site: nestedSite(o.site_id),
        parent: null,
        _depth: 0,
      }),
      rack: (o: FakeRack) => ({
        ...nestedRack(o.id),
        site: nestedSite(o.site_id),
        location: nestedLocation(o.location_id),
        u_height: o.u_height,
        starting_unit: 1,
        desc_units: false,
        status: { value: "active", label: "Active" },
      }),
      deviceType: (o: FakeDeviceType) => ({
        ...nestedType(o),
        u_height: o.u_height,
        is_full_depth: o.is_full_depth,
      }),
      role: (o: FakeRole) => named("dcim/device-roles", o),
      tenant: (o: FakeTenant) => named("tenancy/tenants", o),
      prefix: (o: FakePrefix) => ({
        id: o.id,
        url: url("ipam/prefixes", o.id),
        display: o.prefix,
        family: { value: 4, label: "IPv4" },
        prefix: o.prefix,
        vrf: null,
        status: { value: o.status, label: label(o.status) },
        role: o.role_id === null ? null : named("ipam/roles", ipamRoles.get(o.role_id)!),
        is_pool: o.is_pool,
        description: o.description,
      }),
      ipamRole: (o: FakeIpamRole) => ({
        ...named("ipam/roles", o),
        weight: o.weight,
        prefix_count: [...prefixes.values()].filter((p) => p.role_id === o.id).length,
      }),
      device: (o: FakeDevice) => ({
        ...nestedDevice(o.id),
        device_type: nestedType(deviceTypes.get(o.device_type_id)!),
        role: named("dcim/device-roles", roles.get(o.role_id)!),
        tenant: nestedTenant(o.tenant_id),
        site: nestedSite(o.site_id),
        location: nestedLocation(o.location_id),
        rack: nestedRack(o.rack_id),
        position: o.position,
        face: o.face ? { value: o.face, label: label(o.face) } : null,
        status: { value: o.status, label: label(o.status) },
        serial: o.serial,
        oob_ip: nestedIp(o.oob_ip_id),
        primary_ip: null,
        primary_ip4: null,
        primary_ip6: null,
      }),
      interface: (o: FakeInterface) => {
        const mac = interfaceMac(o);
        return {
          ...nestedInterface(o.id),
          type: { value: o.type, label: o.type },
          enabled: o.enabled,
          mgmt_only: o.mgmt_only,
          mac_address: mac ? mac.toUpperCase() : null,
          ...(macObjects
            ? {
              primary_mac_address: nestedMac(o.primary_mac_address_id),
              mac_addresses: [...macAddresses.values()].filter((m) =>
                assignedInterface(m)?.id === o.id
              )
                .map((m) => nestedMac(m.id)),
            }
            : {}),
          count_ipaddresses:
            [...ipAddresses.values()].filter((ip) => assignedInterface(ip)?.id === o.id)
              .length,
        };
      },
      mac: (o: FakeMacAddress) => ({
        ...nestedMac(o.id),
        assigned_object_type: o.assigned_object_type,
        assigned_object_id: o.assigned_object_id,
        assigned_object: assignedInterface(o) ? nestedInterface(o.assigned_object_id!) : null,
      }),
      ip: (o: FakeIpAddress) => ({
        ...nestedIp(o.id),
        vrf: null,
        tenant: nestedTenant(o.tenant_id),
        status: { value: o.status, label: label(o.status) },
        role: null,
        assigned_object_type: o.assigned_object_type,
        assigned_object_id: o.assigned_object_id,
        assigned_object: assignedInterface(o) ? nestedInterface(o.assigned_object_id!) : null,
        dns_name: o.dns_name,
      }),
    };
  }

  // ---------- filters ----------

  type Filter<T> = (o: T, values: string[]) => boolean;

  /** Exact, case-insensitive exact, contains and negated lookups on a string field. */
  function stringFilters<T>(
    field: string,
    get: (o: T) => string | null,
  ): Record<string, Filter<T>> {
    return {
      [field]: (o, v) => v.includes(get(o) ?? ""),
      [`${field}__ie`]: (o, v) => v.some((x) => x.toLowerCase() === (get(o) ?? "").toLowerCase()),
      [`${field}__ic`]: (o, v) =>
        v.some((x) => (get(o) ?? "").toLowerCase().includes(x.toLowerCase())),
      [`${field}__n`]: (o, v) => !v.includes(get(o) ?? ""),
    };
  }

  /** A ModelMultipleChoiceFilter: unknown ids are a 400, like django-filter answers. */
  function fkFilter<T>(
    param: string,
    table: Map<number, unknown>,
    get: (o: T) => number | null,
  ): Filter<T> {
    return (o, values) => {
      const ids = values.map((v) => {
        const n = Number(v);
        if (!/^\d+$/.test(v) || !table.has(n)) {
          invalid(param, `Select a valid choice. ${v} is not one of the available choices.`);
        }
        return n;
      });
      return ids.includes(get(o) ?? -1);
    };
  }

  /**
   * A ModelMultipleChoiceFilter on a related object's slug (`?site=dcoa`, `?role=server`): an
   * unknown slug is a 400, like django-filter answers; several values match any of them.
   */
  function slugFilter<T>(
    param: string,
    table: Map<number, { slug: string }>,
    get: (o: T) => number | null,
  ): Filter<T> {
    return (o, values) => {
      const ids = values.map((v) => {
        const found = [...table.entries()].find(([, x]) => x.slug === v);
        if (!found) {
          invalid(param, `Select a valid choice. ${v} is not one of the available choices.`);
        }
        return found[0];
      });
      return ids.includes(get(o) ?? -1);
    };
  }

  /** A MultipleChoiceFilter: a value outside the choices is a 400. */
  function choiceFilter<T>(param: string, choices: string[], get: (o: T) => string): Filter<T> {
    return (o, values) => {
      for (const v of values) {
        if (!choices.includes(v)) {
          invalid(param, `Select a valid choice. ${v} is not one of the available choices.`);
        }
      }
      return values.includes(get(o));
    };
  }

  const named = <T extends { name: string; slug: string }>() => ({
    ...stringFilters<T>("name", (o) => o.name),
    ...stringFilters<T>("slug", (o) => o.slug),
    q: (o: T, v: string[]) => v.some((x) => o.name.toLowerCase().includes(x.toLowerCase())),
  });

  // The devices holding any of the MACs, found in one pass per query (as a database index would):
  // the filter runs once per device with the same values array.
  const devicesByMacs = new WeakMap<string[], Set<number>>();
  const devicesWithMac = (values: string[]): Set<number> => {
    let ids = devicesByMacs.get(values);
    if (ids) return ids;
    const wanted = new Set(values.map((x) => normalMac(x) ?? ""));
    ids = new Set();
    if (macObjects) {
      for (const m of macAddresses.values()) {
        const iface = wanted.has(m.mac_address) ? assignedInterface(m) : null;
        if (iface) ids.add(iface.device_id);
      }
    } else {
      for (const i of interfaces.values()) {
        if (i.mac_address && wanted.has(i.mac_address)) ids.add(i.device_id);
      }
    }
    devicesByMacs.set(values, ids);
    return ids;
  };

  const resources: Record<string, Resource> = {};
  interface Resource {
    // deno-lint-ignore no-explicit-any
    table: Map<number, any>;
    // deno-lint-ignore no-explicit-any
    serialize: (s: ReturnType<typeof serializers>, o: any) => unknown;
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

  resources["dcim/sites"] = {
    table: sites,
    serialize: (s, o) => s.site(o),
    filters: named<FakeSite>(),
    create: (b) =>
      addSite({ name: str(b.name), slug: str(b.slug), description: str(b.description) }),
    dependents: (o: FakeSite) =>
      [...devices.values(), ...racks.values(), ...locations.values()].filter((x) =>
        x.site_id === o.id
      )
        .length,
  };
  resources["dcim/locations"] = {
    table: locations,
    serialize: (s, o) => s.location(o),
    filters: {
      ...named<FakeLocation>(),
      site_id: fkFilter("site_id", sites, (o: FakeLocation) => o.site_id),
    },
    create: (b) => {
      const site = resolveRef("site", b.site, sites, siteAttrs);
      if (!site) invalid("site", "This field is required.");
      return addLocation({ name: str(b.name), slug: str(b.slug), siteId: site.id });
    },
    dependents: (o: FakeLocation) =>
      [...racks.values(), ...devices.values()].filter((x) => x.location_id === o.id).length,
  };
  resources["dcim/racks"] = {
    table: racks,
    serialize: (s, o) => s.rack(o),
    filters: {
      ...stringFilters<FakeRack>("name", (o) => o.name),
      q: (o: FakeRack, v) => v.some((x) => o.name.toLowerCase().includes(x.toLowerCase())),
      site_id: fkFilter("site_id", sites, (o: FakeRack) => o.site_id),
      location_id: fkFilter("location_id", locations, (o: FakeRack) => o.location_id),
    },
    create: (b) => {
      const site = resolveRef("site", b.site, sites, siteAttrs);
      if (!site) invalid("site", "This field is required.");
      const loc = resolveRef("location", b.location, locations, siteAttrs);
      return addRack({
        name: str(b.name),
        siteId: site.id,
        locationId: loc?.id ?? null,
        uHeight: b.u_height === undefined ? undefined : Number(b.u_height),
      });
    },
    dependents: (o: FakeRack) => [...devices.values()].filter((x) => x.rack_id === o.id).length,
  };
  resources["dcim/manufacturers"] = {
    table: manufacturers,
    serialize: (s, o) => s.role(o),
    filters: named(),
  };
  resources["dcim/device-types"] = {
    table: deviceTypes,
    serialize: (s, o) => s.deviceType(o),
    filters: {
      ...stringFilters<FakeDeviceType>("model", (o) => o.model),
      ...stringFilters<FakeDeviceType>("slug", (o) => o.slug),
      manufacturer: (o: FakeDeviceType, v) =>
        v.includes(manufacturers.get(o.manufacturer_id)!.slug),
      q: (o: FakeDeviceType, v) => v.some((x) => o.model.toLowerCase().includes(x.toLowerCase())),
    },
    dependents: (o: FakeDeviceType) =>
      [...devices.values()].filter((x) => x.device_type_id === o.id).length,
  };
  resources["dcim/device-roles"] = {
    table: roles,
    serialize: (s, o) => s.role(o),
    filters: named<FakeRole>(),
    create: (b) => addRole({ name: str(b.name), slug: str(b.slug) }),
    dependents: (o: FakeRole) => [...devices.values()].filter((x) => x.role_id === o.id).length,
  };
  resources["tenancy/tenants"] = {
    table: tenants,
    serialize: (s, o) => s.tenant(o),
    filters: named<FakeTenant>(),
    create: (b) => addTenant({ name: str(b.name), slug: str(b.slug) }),
  };
  resources["ipam/prefixes"] = {
    table: prefixes,
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
      role_id: fkFilter("role_id", ipamRoles, (o: FakePrefix) => o.role_id),
      // Netbox's `role` filter takes slugs and answers 400 for an unknown one.
      role: (o: FakePrefix, v) => {
        for (const slug of v) {
          if (![...ipamRoles.values()].some((r) => r.slug === slug)) {
            invalid("role", `Select a valid choice. ${slug} is not one of the available choices.`);
          }
        }
        return o.role_id !== null && v.includes(ipamRoles.get(o.role_id)!.slug);
      },
    },
    create: (b) =>
      addPrefix({
        prefix: str(b.prefix),
        description: str(b.description),
        isPool: b.is_pool === true,
        roleId: resolveRef("role", b.role, ipamRoles, siteAttrs)?.id ?? null,
      }),
  };
  resources["ipam/roles"] = {
    table: ipamRoles,
    serialize: (s, o) => s.ipamRole(o),
    filters: named<FakeIpamRole>(),
    create: (b) =>
      addIpamRole({
        name: str(b.name),
        slug: str(b.slug),
        weight: b.weight === undefined ? undefined : Number(b.weight),
      }),
    // Prefix.role is SET_NULL in Netbox: deleting a role leaves its prefixes without one.
    remove: (o: FakeIpamRole) => {
      for (const p of prefixes.values()) if (p.role_id === o.id) p.role_id = null;
      ipamRoles.delete(o.id);
    },
  };
  resources["dcim/devices"] = {
    table: devices,
    serialize: (s, o) => s.device(o),
    filters: {
      ...stringFilters<FakeDevice>("name", (o) => o.name),
      q: (o: FakeDevice, v) =>
        v.some((x) => (o.name ?? "").toLowerCase().includes(x.toLowerCase())),
      // Netbox's DeviceFilterSet: `<fk>_id` by id and `<fk>` by slug for site, role (`role` from
      // 3.6, `device_role` removed in 4.0), tenant and device_type; each repeatable.
      site_id: fkFilter("site_id", sites, (o: FakeDevice) => o.site_id),
      site: slugFilter("site", sites, (o: FakeDevice) => o.site_id),
      location_id: fkFilter("location_id", locations, (o: FakeDevice) => o.location_id),
      rack_id: fkFilter("rack_id", racks, (o: FakeDevice) => o.rack_id),
      role_id: fkFilter("role_id", roles, (o: FakeDevice) => o.role_id),
      role: slugFilter("role", roles, (o: FakeDevice) => o.role_id),
      tenant_id: fkFilter("tenant_id", tenants, (o: FakeDevice) => o.tenant_id),
      tenant: slugFilter("tenant", tenants, (o: FakeDevice) => o.tenant_id),
      device_type_id: fkFilter("device_type_id", deviceTypes, (o: FakeDevice) => o.device_type_id),
      device_type: slugFilter("device_type", deviceTypes, (o: FakeDevice) => o.device_type_id),
      status: choiceFilter("status", DEVICE_STATUSES, (o: FakeDevice) => o.status),
      position: (o: FakeDevice, v) => v.map(Number).includes(o.position ?? NaN),
      mac_address: (o: FakeDevice, v) => devicesWithMac(v).has(o.id),
    },
    create: (b) => {
      const d = deviceFromBody(b, null);
      validateDevice(d, null);
      d.id = nextId(devices);
      devices.set(d.id, d);
      return d;
    },
    update: (o: FakeDevice, b) => {
      const d = deviceFromBody(b, o);
      validateDevice(d, o.id);
      devices.set(o.id, d);
    },
    remove: deleteDevice,
  };
  resources["dcim/interfaces"] = {
    table: interfaces,
    serialize: (s, o) => s.interface(o),
    filters: {
      ...stringFilters<FakeInterface>("name", (o) => o.name),
      device_id: fkFilter("device_id", devices, (o: FakeInterface) => o.device_id),
      mgmt_only: (o: FakeInterface, v) => v.includes(String(o.mgmt_only)),
      mac_address: (o: FakeInterface, v) => {
        const macs = interfaceMacs(o);
        return v.some((x) => macs.includes(normalMac(x) ?? ""));
      },
    },
    create: createInterface,
    update: (o: FakeInterface, b) => {
      const { iface, primaryMac } = interfaceFromBody(b, o);
      checkPrimaryMac(iface, primaryMac, false);
      interfaces.set(o.id, iface);
    },
    remove: deleteInterface,
  };
  if (macObjects) {
    resources["dcim/mac-addresses"] = {
      table: macAddresses,
      serialize: (s, o) => s.mac(o),
      filters: {
        mac_address: (o: FakeMacAddress, v) => v.some((x) => normalMac(x) === o.mac_address),
        interface_id: fkFilter(
          "interface_id",
          interfaces,
          (o: FakeMacAddress) => assignedInterface(o)?.id ?? null,
        ),
        device_id: fkFilter(
          "device_id",
          devices,
          (o: FakeMacAddress) => assignedInterface(o)?.device_id ?? null,
        ),
        assigned_object_id: (o: FakeMacAddress, v) =>
          v.map(Number).includes(o.assigned_object_id ?? -1),
        assigned_object_type: (o: FakeMacAddress, v) => v.includes(o.assigned_object_type ?? ""),
        assigned: (o: FakeMacAddress, v) => v.includes(String(o.assigned_object_id !== null)),
      },
      create: createMac,
      update: updateMac,
      remove: deleteMac,
    };
  }
  resources["ipam/ip-addresses"] = {
    table: ipAddresses,
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
        interfaces,
        (o: FakeIpAddress) => assignedInterface(o)?.id ?? null,
      ),
      device_id: fkFilter(
        "device_id",
        devices,
        (o: FakeIpAddress) => assignedInterface(o)?.device_id ?? null,
      ),
      assigned_to_interface: (o: FakeIpAddress, v) =>
        v.includes(String(assignedInterface(o) !== null)),
      status: (o: FakeIpAddress, v) => v.includes(o.status),
      ...stringFilters<FakeIpAddress>("dns_name", (o) => o.dns_name),
      q: (o: FakeIpAddress, v) => v.some((x) => o.address.includes(x) || o.description.includes(x)),
    },
    create: createIp,
    update: (o: FakeIpAddress, b) => {
      const ip = ipFromBody(b, o);
      validateIp(ip, o.id, o);
      ipAddresses.set(o.id, ip);
    },
    remove: deleteIp,
  };

  // ---------- HTTP ----------

  function json(body: unknown, status = 200): Response {
    const major = /(\d+\.\d+)/.exec(version)?.[1] ?? version;
    return Response.json(body, { status, headers: { "API-Version": major } });
  }

  function authenticate(req: Request): Response | null {
    const header = req.headers.get("authorization");
    const m = header ? /^(Token|Bearer)\s+(\S+)$/i.exec(header.trim()) : null;
    if (!m) return json({ detail: "Authentication credentials were not provided." }, 403);
    const given = m[2];
    if (given.startsWith("nbt_")) {
      if (!given.includes(".")) return json({ detail: "Could not parse key from v2 token" }, 403);
      return given === token ? null : json({ detail: "Invalid v2 token" }, 403);
    }
    return given === token ? null : json({ detail: "Invalid v1 token" }, 403);
  }

  async function readBody(req: Request): Promise<unknown> {
    const text = await req.text();
    if (!text) return {};
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new HttpFailure(400, { detail: `JSON parse error - ${(e as Error).message}` });
    }
  }

  function asObject(body: unknown): Record<string, unknown> {
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      throw new Invalid({
        non_field_errors: ["Invalid data. Expected a dictionary, but got list."],
      });
    }
    return body as Record<string, unknown>;
  }

  function list(
    req: Request,
    url: URL,
    res: Resource,
    s: ReturnType<typeof serializers>,
  ): Response {
    const params = url.searchParams;
    let items = [...res.table.values()];
    const ids = params.getAll("id");
    if (ids.length) items = items.filter((o) => ids.map(Number).includes(o.id));
    for (const key of new Set(params.keys())) {
      if (key === "id" || PAGING_PARAMS.has(key)) continue;
      const filter = res.filters[key];
      // django-filter ignores parameters it does not know.
      if (!filter) continue;
      const values = params.getAll(key);
      items = items.filter((o) => filter(o, values));
    }
    items.sort((a, b) => a.id - b.id);
    const limitText = params.get("limit");
    let limit = limitText === null ? PAGINATE_COUNT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) limit = PAGINATE_COUNT;
    if (limit === 0 || limit > MAX_PAGE_SIZE) limit = MAX_PAGE_SIZE;
    let offset = Number(params.get("offset") ?? 0);
    if (!Number.isInteger(offset) || offset < 0) offset = 0;
    const page = items.slice(offset, offset + limit);
    const link = (o: number) => {
      const u = new URL(req.url);
      u.searchParams.set("limit", String(limit));
      if (o > 0) u.searchParams.set("offset", String(o));
      else u.searchParams.delete("offset");
      return u.toString();
    };
    return json({
      count: items.length,
      next: offset + limit < items.length ? link(offset + limit) : null,
      previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
      results: page.map((o) => res.serialize(s, o)),
    });
  }

  async function availableIps(
    req: Request,
    url: URL,
    prefixId: number,
    origin: string,
  ): Promise<Response> {
    const prefix = prefixes.get(prefixId);
    if (!prefix) throw NOT_FOUND();
    if (req.method === "GET") {
      let limit = Number(url.searchParams.get("limit") ?? PAGINATE_COUNT);
      if (!Number.isInteger(limit) || limit <= 0 || limit > MAX_PAGE_SIZE) limit = MAX_PAGE_SIZE;
      const out = [];
      for (const address of freeAddresses(prefix)) {
        if (out.length >= limit) break;
        out.push({ family: 4, address, vrf: null });
      }
      return json(out);
    }
    if (req.method !== "POST") {
      throw new HttpFailure(405, { detail: `Method "${req.method}" not allowed.` });
    }
    return await withAllocationLock(async () => {
      const body = await readBody(req);
      const requests = (Array.isArray(body) ? body : [body]).map(asObject);
      const free = freeAddresses(prefix);
      const picked: string[] = [];
      for (let i = 0; i < requests.length; i++) {
        const next = free.next();
        if (next.done) {
          throw new HttpFailure(409, {
            detail: "Insufficient resources are available to satisfy the request",
          });
        }
        picked.push(next.value);
      }
      // Validate everything before saving anything (the view runs in one transaction).
      const drafts = requests.map((r, i) => {
        const { prefix_length: _ignored, ...rest } = r;
        const ip = ipFromBody({ ...rest, address: picked[i] }, null);
        validateIp(ip, null, null);
        return ip;
      });
      for (const ip of drafts) {
        ip.id = nextId(ipAddresses);
        ipAddresses.set(ip.id, ip);
      }
      const s = serializers(origin);
      const out = drafts.map((ip) => s.ip(ip));
      return json(Array.isArray(body) ? out : out[0], 201);
    });
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    if (!path.startsWith("/api")) throw NOT_FOUND();
    if (!path.endsWith("/")) {
      // Django's APPEND_SLASH.
      return new Response(null, { status: 302, headers: { location: `${path}/${url.search}` } });
    }
    const denied = authenticate(req);
    if (denied) return denied;
    const origin = url.origin;
    const parts = path.slice("/api/".length, -1).split("/").filter(Boolean);
    if (parts.length === 1 && parts[0] === "status") {
      if (req.method !== "GET") {
        throw new HttpFailure(405, { detail: `Method "${req.method}" not allowed.` });
      }
      return json({
        "django-version": "5.1.8",
        "installed-apps": {},
        "netbox-version": version,
        "netbox-full-version": version,
        plugins: {},
        "python-version": "3.12.3",
        "rq-workers-running": 1,
      });
    }
    if (parts.length === 0) {
      return json({ circuits: `${origin}/api/circuits/`, dcim: `${origin}/api/dcim/` });
    }
    if (
      parts.length === 4 && parts[0] === "ipam" && parts[1] === "prefixes" &&
      parts[3] === "available-ips"
    ) {
      if (!/^\d+$/.test(parts[2])) throw NOT_FOUND();
      return await availableIps(req, url, Number(parts[2]), origin);
    }
    const res = resources[`${parts[0]}/${parts[1]}`];
    if (!res || parts.length > 3) throw NOT_FOUND();
    const s = serializers(origin);
    if (parts.length === 2) {
      if (req.method === "GET") return list(req, url, res, s);
      if (req.method === "POST" && res.create) {
        const body = await readBody(req);
        if (Array.isArray(body)) {
          const created = body.map((b) => res.create!(asObject(b)));
          return json(created.map((o) => res.serialize(s, res.table.get(o.id))), 201);
        }
        const created = res.create(asObject(body));
        return json(res.serialize(s, res.table.get(created.id)), 201);
      }
      throw new HttpFailure(405, { detail: `Method "${req.method}" not allowed.` });
    }
    if (!/^\d+$/.test(parts[2])) throw NOT_FOUND();
    const obj = res.table.get(Number(parts[2]));
    if (!obj) throw NOT_FOUND();
    if (req.method === "GET") return json(res.serialize(s, obj));
    if ((req.method === "PATCH" || req.method === "PUT") && res.update) {
      res.update(obj, asObject(await readBody(req)));
      return json(res.serialize(s, res.table.get(obj.id)));
    }
    if (req.method === "DELETE") {
      const blocking = res.dependents?.(obj) ?? 0;
      if (blocking) {
        throw new HttpFailure(409, {
          detail: `Unable to delete object. ${blocking} dependent objects were found`,
        });
      }
      if (res.remove) res.remove(obj);
      else res.table.delete(obj.id);
      return new Response(null, { status: 204, headers: { "API-Version": version } });
    }
    throw new HttpFailure(405, { detail: `Method "${req.method}" not allowed.` });
  }

  async function handler(req: Request): Promise<Response> {
    const url = new URL(req.url);
    logRequest(requestLog, `${req.method} ${url.pathname}${url.search}`);
    const faulted = await faults.apply(req);
    if (faulted) return faulted;
    try {
      return await route(req);
    } catch (e) {
      if (e instanceof Invalid) return json(e.fields, 400);
      if (e instanceof HttpFailure) return json(e.body, e.status);
      throw e;
    }
  }

  const fake: FakeNetbox = {
    handler,
    faults,
    version,
    token,
    macObjects,
    sites,
    locations,
    racks,
    manufacturers,
    deviceTypes,
    roles,
    tenants,
    ipamRoles,
    prefixes,
    devices,
    interfaces,
    macAddresses,
    ipAddresses,
    requestLog,
    seedIds: null,
    addSite,
    addLocation,
    addRack,
    addDeviceType,
    addRole,
    addTenant,
    addIpamRole,
    addPrefix,
    addDevice,
    addInterface,
    addIp,
  };
  if (options.seed) fake.seedIds = seedNetbox(fake);
  return fake;
}
