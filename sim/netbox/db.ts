/**
 * The fake Netbox's state and the rules every concern shares: the tables, id sequences, the IP
 * allocation lock, Netbox's error shapes, reference resolution and IPv4 helpers.
 */
import type {
  FakeDeviceType,
  FakeIpAddress,
  FakeMacAddress,
  FakeRack,
  FakeSite,
  NetboxTables,
} from "./types.ts";

import { Faults } from "../faults.ts";
import { ipv4ToInt } from "../../lib/domain/ipv4.ts";

/** The v1 token the fake accepts unless another is given. */
export const FAKE_NETBOX_TOKEN = "0123456789abcdef0123456789abcdef01234567";

/** A 400 with Netbox's `{"field": ["message"]}` body. */
export class Invalid extends Error {
  constructor(readonly fields: Record<string, string[]>) {
    super(JSON.stringify(fields));
  }
}

/** Any other non-2xx answer with a DRF `{"detail": …}` body. */
export class HttpFailure extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(JSON.stringify(body));
  }
}

export const NOT_FOUND = () => new HttpFailure(404, { detail: "Not found." });

export function invalid(field: string, message: string): never {
  throw new Invalid({ [field]: [message] });
}

/** Collects field errors the way Django's full_clean does, then throws them together. */
export class Errors {
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

export const IP_STATUSES = ["active", "reserved", "deprecated", "dhcp", "slaac"];
export const INTERFACE_TYPES = [
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
export const PAGINATE_COUNT = 50;
export const MAX_PAGE_SIZE = 1000;
export const PAGING_PARAMS = new Set([
  "limit",
  "offset",
  "brief",
  "fields",
  "omit",
  "ordering",
  "format",
]);

export function slugify(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_]+/g, "-").replace(/^-+|-+$/g, "");
}

export function label(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}

/** Parses "a.b.c" version strings (also "v4.3.1-Docker-…") into comparable numbers. */
export function versionAtLeast(version: string, want: [number, number, number]): boolean {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  const have = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i];
  return true;
}

/** Normalises any EUI-48 notation to lower-case colon form, or null. */
export function normalMac(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const hex = value.trim().replace(/[:.\-]/g, "");
  if (!/^[0-9a-f]{12}$/i.test(hex)) return null;
  return hex.toLowerCase().match(/../g)!.join(":");
}

export const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function validIpv4(ip: string): boolean {
  const m = IPV4.exec(ip);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

export interface Cidr {
  ip: string;
  len: number;
  n: number;
  network: number;
  broadcast: number;
}

/** Parses an IPv4 CIDR (`10.0.0.5/24`); the mask is required unless `defaultLen` is given. */
export function parseCidr(value: string, defaultLen?: number): Cidr | null {
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
export function pyRepr(obj: Record<string, unknown>): string {
  const parts = Object.entries(obj).map(([k, v]) =>
    `'${k}': ${typeof v === "string" ? `'${v}'` : JSON.stringify(v)}`
  );
  return `{${parts.join(", ")}}`;
}

/** Everything one fake Netbox holds; the concern modules take it as their first argument. */
export interface NetboxDb extends NetboxTables {
  version: string;
  token: string;
  /** True when the version has `dcim.MACAddress` objects (4.2+). */
  macObjects: boolean;
  faults: Faults;
  requestLog: string[];
  /** One sequence per table, like PostgreSQL. */
  sequences: Map<Map<number, unknown>, number>;
  /** Netbox's advisory lock around IP allocation: one allocation at a time. */
  allocationLock: Promise<unknown>;
}

export function createDb(options: { version?: string; token?: string }): NetboxDb {
  const version = options.version ?? "4.3.1";
  return {
    version,
    token: options.token ?? FAKE_NETBOX_TOKEN,
    macObjects: versionAtLeast(version, [4, 2, 0]),
    faults: new Faults(),
    requestLog: [],
    sites: new Map(),
    locations: new Map(),
    racks: new Map(),
    manufacturers: new Map(),
    deviceTypes: new Map(),
    roles: new Map(),
    tenants: new Map(),
    ipamRoles: new Map(),
    prefixes: new Map(),
    devices: new Map(),
    interfaces: new Map(),
    macAddresses: new Map(),
    ipAddresses: new Map(),
    sequences: new Map(),
    allocationLock: Promise.resolve(),
  };
}

export function nextId(db: NetboxDb, table: Map<number, unknown>): number {
  const id = (db.sequences.get(table) ?? 0) + 1;
  db.sequences.set(table, id);
  return id;
}

export function withAllocationLock<T>(db: NetboxDb, fn: () => Promise<T>): Promise<T> {
  const run = db.allocationLock.then(fn, fn);
  db.allocationLock = run.catch(() => {});
  return run;
}

export function uniqueNamed<T extends { name: string; slug: string }>(
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

export function resolveRef<T extends { id: number }>(
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
      `Incorrect type. Expected pk value, received ${typeof pk === "string" ? "str" : typeof pk}.`,
    );
  }
  const o = table.get(id);
  if (!o) invalid(field, `Invalid pk "${id}" - object does not exist.`);
  return o;
}

export const siteAttrs = (o: FakeSite) => ({ name: o.name, slug: o.slug });
export const rackAttrs = (o: FakeRack) => ({ name: o.name });
export const typeAttrs = (o: FakeDeviceType) => ({ model: o.model, slug: o.slug });
export const ipAttrs = (o: FakeIpAddress) => ({ address: o.address });
export const macAttrs = (o: FakeMacAddress) => ({ mac_address: o.mac_address });

/** The interface an IP or MAC is assigned to, or null. */
export function assignedInterface(
  db: NetboxDb,
  o: { assigned_object_type: string | null; assigned_object_id: number | null },
) {
  return o.assigned_object_type === "dcim.interface" && o.assigned_object_id !== null
    ? db.interfaces.get(o.assigned_object_id) ?? null
    : null;
}

export function assignmentFromBody(
  db: NetboxDb,
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
  if (id === null || !db.interfaces.has(id)) {
    errors.add("assigned_object_id", `Related object not found: dcim.interface ${id}`);
    return undefined;
  }
  return { type, id };
}

export function hostOf(address: string): string {
  return address.split("/")[0];
}
