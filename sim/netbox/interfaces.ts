/** Interfaces and their MACs: the interface field before 4.2, `dcim.MACAddress` objects from 4.2. */
import {
  assignedInterface,
  assignmentFromBody,
  Errors,
  INTERFACE_TYPES,
  Invalid,
  invalid,
  macAttrs,
  type NetboxDb,
  nextId,
  normalMac,
  resolveRef,
  versionAtLeast,
} from "./db.ts";
import { deleteIp } from "./ipam.ts";
import type { FakeDevice, FakeInterface, FakeMacAddress } from "./types.ts";

export function interfaceMac(db: NetboxDb, iface: FakeInterface): string | null {
  if (!db.macObjects) return iface.mac_address;
  const primary = iface.primary_mac_address_id === null
    ? null
    : db.macAddresses.get(iface.primary_mac_address_id);
  return primary?.mac_address ?? null;
}

export function interfaceMacs(db: NetboxDb, iface: FakeInterface): string[] {
  if (!db.macObjects) return iface.mac_address ? [iface.mac_address] : [];
  return [...db.macAddresses.values()].filter((m) => assignedInterface(db, m)?.id === iface.id).map(
    (
      m,
    ) => m.mac_address,
  );
}

export function interfaceFromBody(
  db: NetboxDb,
  body: Record<string, unknown>,
  base: FakeInterface | null,
): {
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
      device = resolveRef("device", body.device, db.devices, (o) => ({ name: o.name }));
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
  if (!db.macObjects && "mac_address" in body) {
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
  if (db.macObjects && "primary_mac_address" in body) {
    try {
      primaryMac = resolveRef(
        "primary_mac_address",
        body.primary_mac_address,
        db.macAddresses,
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
  for (const o of db.interfaces.values()) {
    if (o.id !== iface.id && o.device_id === iface.device_id && o.name === iface.name) {
      invalid("non_field_errors", "The fields device, name must make a unique set.");
    }
  }
  return { iface, primaryMac };
}

/** Interface.clean() for the primary MAC: it must be assigned to this interface. */
export function checkPrimaryMac(
  db: NetboxDb,
  iface: FakeInterface,
  mac: FakeMacAddress | null | undefined,
  creating: boolean,
) {
  if (!mac) return;
  const owner = assignedInterface(db, mac);
  // 4.4.2+: an unassigned MAC given on create is assigned to the new interface by a signal.
  if (!owner && creating && versionAtLeast(db.version, [4, 4, 2])) return;
  if (owner?.id !== iface.id) {
    invalid(
      "primary_mac_address",
      `MAC address ${mac.mac_address.toUpperCase()} is assigned to a different interface (${
        owner ? owner.name : "None"
      }).`,
    );
  }
  for (const o of db.interfaces.values()) {
    if (o.id !== iface.id && o.primary_mac_address_id === mac.id) {
      invalid("primary_mac_address", "interface with this primary mac address already exists.");
    }
  }
}

export function createInterface(db: NetboxDb, body: Record<string, unknown>): FakeInterface {
  const { iface, primaryMac } = interfaceFromBody(db, body, null);
  checkPrimaryMac(db, iface, primaryMac, true);
  iface.id = nextId(db, db.interfaces);
  db.interfaces.set(iface.id, iface);
  if (primaryMac && !assignedInterface(db, primaryMac)) {
    primaryMac.assigned_object_type = "dcim.interface";
    primaryMac.assigned_object_id = iface.id;
  }
  return iface;
}

export function addInterface(
  db: NetboxDb,
  input: { deviceId: number; name: string; type?: string; mgmtOnly?: boolean; mac?: string },
): FakeInterface {
  const iface = createInterface(db, {
    device: input.deviceId,
    name: input.name,
    type: input.type ?? "1000base-t",
    mgmt_only: input.mgmtOnly ?? false,
    ...(!db.macObjects && input.mac ? { mac_address: input.mac } : {}),
  });
  if (db.macObjects && input.mac) {
    const mac = createMac(db, {
      mac_address: input.mac,
      assigned_object_type: "dcim.interface",
      assigned_object_id: iface.id,
    });
    iface.primary_mac_address_id = mac.id;
  }
  return iface;
}

export function deleteInterface(db: NetboxDb, iface: FakeInterface) {
  for (const m of [...db.macAddresses.values()]) {
    if (assignedInterface(db, m)?.id === iface.id) db.macAddresses.delete(m.id);
  }
  for (const ip of [...db.ipAddresses.values()]) {
    if (assignedInterface(db, ip)?.id === iface.id) deleteIp(db, ip);
  }
  db.interfaces.delete(iface.id);
}

export function createMac(db: NetboxDb, body: Record<string, unknown>): FakeMacAddress {
  const errors = new Errors();
  let mac: string | null = null;
  if (body.mac_address == null || body.mac_address === "") {
    errors.add("mac_address", "This field is required.");
  } else {
    mac = normalMac(body.mac_address);
    if (!mac) errors.add("mac_address", `Invalid MAC address format: ${body.mac_address}`);
  }
  const assignment = assignmentFromBody(db, body, errors);
  errors.throwIfAny();
  const record: FakeMacAddress = {
    id: nextId(db, db.macAddresses),
    mac_address: mac!,
    assigned_object_type: assignment?.type ?? null,
    assigned_object_id: assignment?.id ?? null,
    description: String(body.description ?? ""),
  };
  db.macAddresses.set(record.id, record);
  return record;
}

export function updateMac(db: NetboxDb, mac: FakeMacAddress, body: Record<string, unknown>) {
  const errors = new Errors();
  let value = mac.mac_address;
  if ("mac_address" in body) {
    const v = normalMac(body.mac_address);
    if (!v) errors.add("mac_address", `Invalid MAC address format: ${body.mac_address}`);
    else value = v;
  }
  const assignment = assignmentFromBody(db, body, errors);
  errors.throwIfAny();
  if (assignment) {
    const original = assignedInterface(db, mac);
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

export function deleteMac(db: NetboxDb, mac: FakeMacAddress) {
  for (const iface of db.interfaces.values()) {
    if (iface.primary_mac_address_id === mac.id) iface.primary_mac_address_id = null;
  }
  db.macAddresses.delete(mac.id);
}
