/** Netbox's JSON shapes and their mapping to ours; id and MAC helpers. */
import type {
  InventoryDevice,
  NetboxDevice,
  NetboxDeviceType,
  NetboxIp,
  NetboxPrefix,
  NetboxRack,
  NetboxRef,
} from "./types.ts";

export const PAGE_SIZE = 1000;

/** How long what `ensureBmcInterface` saw of an interface may stand in for reading it again. */
export const INTERFACE_HINT_MS = 30_000;

/** How long a device type's height, once seen, stands in for asking again in `rackDevices`. */
export const TYPE_HEIGHT_MS = 60_000;

// Shapes of the Netbox JSON we read (only the fields used).
export interface Nested {
  id: number;
  name?: string | null;
  slug?: string;
}

export interface Page<T> {
  count: number | null;
  next: string | null;
  results: T[];
}

export interface ApiNamed {
  id: number;
  name: string;
  slug?: string;
}

export interface ApiRack {
  id: number;
  name: string;
  u_height: number;
  site: Nested;
  location: Nested | null;
}

export interface ApiDeviceType {
  id: number;
  model: string;
  slug: string;
  u_height: number;
  manufacturer: Nested;
}

export interface ApiPrefix {
  id: number;
  prefix: string;
  description: string;
  role?: Nested | null;
}

export interface ApiDevice {
  id: number;
  name: string | null;
  status: { value: string } | string;
  site: Nested;
  location?: Nested | null;
  rack: Nested | null;
  position: number | null;
  oob_ip: (Nested & { address?: string }) | null;
  tenant: Nested | null;
  device_type: Nested & { model?: string };
  role?: Nested | null;
}

export interface ApiInterface {
  id: number;
  name: string;
  device: Nested;
  mac_address: string | null;
  primary_mac_address?: { id: number; mac_address: string } | null;
}

export interface ApiMac {
  id: number;
  mac_address: string;
  assigned_object_type: string | null;
  assigned_object_id: number | null;
}

export interface ApiIp {
  id: number;
  address: string;
  assigned_object_type: string | null;
  assigned_object_id: number | null;
  assigned_object?: { name?: string; device?: Nested | null } | null;
}

export const toRef = (o: ApiNamed): NetboxRef => ({ id: o.id, name: o.name, slug: o.slug });

export const toRack = (o: ApiRack): NetboxRack => ({
  id: o.id,
  name: o.name,
  u_height: Number(o.u_height),
  site_id: o.site.id,
  location_id: o.location?.id ?? null,
});

export const toDeviceType = (o: ApiDeviceType): NetboxDeviceType => ({
  id: o.id,
  name: o.model,
  slug: o.slug,
  model: o.model,
  u_height: Number(o.u_height),
  manufacturer: o.manufacturer?.name ?? "",
});

export const toPrefix = (o: ApiPrefix): NetboxPrefix => ({
  id: o.id,
  prefix: o.prefix,
  description: o.description ?? "",
  role: o.role ? { id: o.role.id, name: o.role.name ?? "", slug: o.role.slug } : null,
});

export const toDevice = (o: ApiDevice): NetboxDevice => ({
  id: o.id,
  name: o.name ?? "",
  status: typeof o.status === "string" ? o.status : o.status?.value,
  site_id: o.site.id,
  rack_id: o.rack?.id ?? null,
  position: o.position == null ? null : Number(o.position),
  oob_ip_id: o.oob_ip?.id ?? null,
  tenant_id: o.tenant?.id ?? null,
});

export const nestedRef = (o: Nested | null | undefined, name = o?.name): NetboxRef | null =>
  o ? { id: o.id, name: name ?? String(o.id), ...(o.slug ? { slug: o.slug } : {}) } : null;

export const toInventoryDevice = (o: ApiDevice): InventoryDevice => ({
  id: o.id,
  name: o.name ?? `Unnamed device (${o.id})`,
  status: typeof o.status === "string" ? o.status : o.status?.value,
  site: nestedRef(o.site),
  location: nestedRef(o.location),
  rack: nestedRef(o.rack),
  position: o.position == null ? null : Number(o.position),
  device_type: nestedRef(o.device_type, o.device_type?.model ?? undefined),
  role: nestedRef(o.role),
  bmc_ip: o.oob_ip?.address?.split("/")[0] ?? null,
});

export const toIp = (o: ApiIp): NetboxIp => ({
  id: o.id,
  address: o.address,
  interface_id: o.assigned_object_type === "dcim.interface" ? o.assigned_object_id : null,
});

/** `4.3.1`, `v4.2.0-Docker-3.1` → true from 4.2 on. */
export function hasMacObjects(version: string): boolean {
  const m = /(\d+)\.(\d+)/.exec(version);
  if (!m) return true;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 4 || (major === 4 && minor >= 2);
}

/** A reference that is an id: a number, or a string of digits. */
export function asId(ref: string | number): number | null {
  if (typeof ref === "number") return Number.isInteger(ref) ? ref : null;
  return /^\d+$/.test(ref.trim()) ? Number(ref.trim()) : null;
}

export function sameMac(a: string | null | undefined, b: string): boolean {
  return !!a && a.toLowerCase() === b.toLowerCase();
}
