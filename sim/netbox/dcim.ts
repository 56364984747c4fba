/** DCIM: sites, locations, racks, device types, roles, tenants and devices, with Netbox's rules. */
import { NETBOX_DEVICE_STATUSES } from "../../lib/domain/model.ts";
import {
  Errors,
  Invalid,
  invalid,
  ipAttrs,
  type NetboxDb,
  nextId,
  rackAttrs,
  resolveRef,
  siteAttrs,
  slugify,
  typeAttrs,
  uniqueNamed,
} from "./db.ts";
import { deleteInterface } from "./interfaces.ts";
import type {
  FakeDevice,
  FakeDeviceType,
  FakeLocation,
  FakeNetbox,
  FakeRack,
  FakeRole,
  FakeSite,
  FakeTenant,
} from "./types.ts";

export function addSite(
  db: NetboxDb,
  input: { name: string; slug?: string; description?: string },
): FakeSite {
  const slug = input.slug ?? slugify(input.name);
  uniqueNamed(db.sites, input.name, slug, "site");
  const site = {
    id: nextId(db, db.sites),
    name: input.name,
    slug,
    description: input.description ?? "",
  };
  db.sites.set(site.id, site);
  return site;
}

export function addLocation(
  db: NetboxDb,
  input: { name: string; siteId: number; slug?: string },
): FakeLocation {
  if (!db.sites.has(input.siteId)) {
    invalid("site", `Invalid pk "${input.siteId}" - object does not exist.`);
  }
  const slug = input.slug ?? slugify(input.name);
  uniqueNamed(db.locations, input.name, slug, "location", (o) => o.site_id === input.siteId);
  const loc = {
    id: nextId(db, db.locations),
    name: input.name,
    slug,
    site_id: input.siteId,
    description: "",
  };
  db.locations.set(loc.id, loc);
  return loc;
}

export function addRack(
  db: NetboxDb,
  input: { name: string; siteId: number; locationId?: number | null; uHeight?: number },
): FakeRack {
  if (!input.name) invalid("name", "This field is required.");
  if (!db.sites.has(input.siteId)) {
    invalid("site", `Invalid pk "${input.siteId}" - object does not exist.`);
  }
  const locationId = input.locationId ?? null;
  if (locationId !== null) {
    const loc = db.locations.get(locationId);
    if (!loc) invalid("location", `Invalid pk "${locationId}" - object does not exist.`);
    if (loc.site_id !== input.siteId) {
      invalid(
        "location",
        `Location "${loc.name}" does not belong to site "${db.sites.get(input.siteId)!.name}".`,
      );
    }
  }
  for (const r of db.racks.values()) {
    if (r.location_id === locationId && r.site_id === input.siteId && r.name === input.name) {
      invalid("__all__", "Rack with this Location and Name already exists.");
    }
  }
  const uHeight = input.uHeight ?? 42;
  if (!Number.isInteger(uHeight) || uHeight < 1 || uHeight > 100) {
    invalid("u_height", "Ensure this value is less than or equal to 100.");
  }
  const rack = {
    id: nextId(db, db.racks),
    name: input.name,
    site_id: input.siteId,
    location_id: locationId,
    u_height: uHeight,
    description: "",
  };
  db.racks.set(rack.id, rack);
  return rack;
}

export function addDeviceType(db: NetboxDb, input: {
  model: string;
  manufacturer: string;
  slug?: string;
  uHeight?: number;
  isFullDepth?: boolean;
}): FakeDeviceType {
  let mfr = [...db.manufacturers.values()].find((m) =>
    m.name === input.manufacturer || m.slug === input.manufacturer
  );
  if (!mfr) {
    mfr = {
      id: nextId(db, db.manufacturers),
      name: input.manufacturer,
      slug: slugify(input.manufacturer),
      description: "",
    };
    db.manufacturers.set(mfr.id, mfr);
  }
  const slug = input.slug ?? slugify(input.model);
  // Slug and model are unique per manufacturer only (constraint unique_manufacturer_slug).
  for (const t of db.deviceTypes.values()) {
    if (t.manufacturer_id === mfr.id && (t.slug === slug || t.model === input.model)) {
      invalid("__all__", "Device type with this Manufacturer and Slug already exists.");
    }
  }
  const type = {
    id: nextId(db, db.deviceTypes),
    manufacturer_id: mfr.id,
    model: input.model,
    slug,
    u_height: input.uHeight ?? 1,
    is_full_depth: input.isFullDepth ?? true,
    description: "",
  };
  db.deviceTypes.set(type.id, type);
  return type;
}

export function addRole(db: NetboxDb, input: { name: string; slug?: string }): FakeRole {
  const slug = input.slug ?? slugify(input.name);
  uniqueNamed(db.roles, input.name, slug, "device role");
  const role = { id: nextId(db, db.roles), name: input.name, slug, description: "" };
  db.roles.set(role.id, role);
  return role;
}

export function addTenant(db: NetboxDb, input: { name: string; slug?: string }): FakeTenant {
  const slug = input.slug ?? slugify(input.name);
  uniqueNamed(db.tenants, input.name, slug, "tenant");
  const tenant = { id: nextId(db, db.tenants), name: input.name, slug, description: "" };
  db.tenants.set(tenant.id, tenant);
  return tenant;
}

/** First and last unit a device occupies, or null when it takes no rack units. */
export function unitsOf(db: NetboxDb, d: FakeDevice): [number, number] | null {
  if (d.rack_id === null || d.position === null) return null;
  const h = db.deviceTypes.get(d.device_type_id)?.u_height ?? 1;
  if (h === 0) return null;
  return [d.position, d.position + h - 1];
}

/** The devices a new one could clash with: those in a rack, those of a name (lower case). */
export interface DevicePeers {
  inRack(rackId: number): Iterable<FakeDevice>;
  named(lower: string): Iterable<FakeDevice>;
}

const everyDevice = (db: NetboxDb): DevicePeers => ({
  inRack: () => db.devices.values(),
  named: () => db.devices.values(),
});

/**
 * Device.clean() plus the unique constraints, collected like full_clean(). `peers` narrows the
 * devices compared (a bulk seed's indexes); every device by default.
 */
export function validateDevice(
  db: NetboxDb,
  d: FakeDevice,
  selfId: number | null,
  peers: DevicePeers = everyDevice(db),
) {
  const errors = new Errors();
  const site = db.sites.get(d.site_id)!;
  const rack = d.rack_id === null ? null : db.racks.get(d.rack_id)!;
  const location = d.location_id === null ? null : db.locations.get(d.location_id)!;
  const type = db.deviceTypes.get(d.device_type_id)!;
  if (d.name !== null && d.name.length > 64) {
    errors.add("name", "Ensure this field has no more than 64 characters.");
  }
  if (!NETBOX_DEVICE_STATUSES.includes(d.status)) {
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
    const clash = top > rack.u_height || [...peers.inRack(rack.id)].some((o) => {
      if (o.id === selfId || o.rack_id !== rack.id) return false;
      const units = unitsOf(db, o);
      if (!units) return false;
      const otherFull = db.deviceTypes.get(o.device_type_id)?.is_full_depth ?? true;
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
    const ip = db.ipAddresses.get(d.oob_ip_id)!;
    const iface = ip.assigned_object_type === "dcim.interface" && ip.assigned_object_id !== null
      ? db.interfaces.get(ip.assigned_object_id)
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
    const dup = [...peers.named(lower)].some((o) =>
      o.id !== selfId && o.site_id === d.site_id && o.name?.toLowerCase() === lower &&
      o.tenant_id === d.tenant_id
    );
    if (dup) invalid("__all__", "Device name must be unique per site.");
  }
}

/** Applies a device create/PATCH body onto `base`, resolving references; throws field errors. */
export function deviceFromBody(
  db: NetboxDb,
  body: Record<string, unknown>,
  base: FakeDevice | null,
): FakeDevice {
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
  tryRef("device_type", db.deviceTypes, typeAttrs);
  tryRef("role", db.roles, siteAttrs);
  tryRef("site", db.sites, siteAttrs);
  tryRef("location", db.locations, siteAttrs);
  tryRef("rack", db.racks, rackAttrs);
  tryRef("tenant", db.tenants, siteAttrs);
  tryRef("oob_ip", db.ipAddresses, ipAttrs);
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

export function addDevice(
  db: NetboxDb,
  input: Parameters<FakeNetbox["addDevice"]>[0],
  peers?: DevicePeers,
): FakeDevice {
  const d = deviceFromBody(db, {
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
  validateDevice(db, d, null, peers);
  d.id = nextId(db, db.devices);
  db.devices.set(d.id, d);
  return d;
}

/**
 * Many devices at once, each checked as `addDevice` checks it, against indexes of the devices by
 * rack and by name built once (a site of 100,000 devices for the bench, without 10^10 comparisons).
 */
export function addDevices(
  db: NetboxDb,
  inputs: Parameters<FakeNetbox["addDevice"]>[0][],
): FakeDevice[] {
  const byRack = new Map<number, FakeDevice[]>();
  const byName = new Map<string, FakeDevice[]>();
  const index = (d: FakeDevice) => {
    if (d.rack_id !== null) byRack.set(d.rack_id, [...byRack.get(d.rack_id) ?? [], d]);
    const lower = d.name?.toLowerCase();
    if (lower !== undefined) byName.set(lower, [...byName.get(lower) ?? [], d]);
  };
  for (const d of db.devices.values()) index(d);
  const peers: DevicePeers = {
    inRack: (id) => byRack.get(id) ?? [],
    named: (lower) => byName.get(lower) ?? [],
  };
  return inputs.map((input) => {
    const d = addDevice(db, input, peers);
    index(d);
    return d;
  });
}

export function deleteDevice(db: NetboxDb, d: FakeDevice) {
  // Interfaces cascade; their GenericRelations (IPs, MAC objects) are deleted with them.
  for (const iface of [...db.interfaces.values()]) {
    if (iface.device_id === d.id) deleteInterface(db, iface);
  }
  db.devices.delete(d.id);
}
