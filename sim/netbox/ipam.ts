/** IPAM: roles, prefixes and IP addresses, with Netbox's uniqueness and assignment rules. */
import { intToIpv4, ipv4ToInt } from "../../lib/domain/ipv4.ts";
import {
  assignedInterface,
  assignmentFromBody,
  Errors,
  hostOf,
  Invalid,
  invalid,
  IP_STATUSES,
  type NetboxDb,
  nextId,
  parseCidr,
  resolveRef,
  siteAttrs,
  slugify,
  uniqueNamed,
} from "./db.ts";
import type { FakeIpAddress, FakeIpamRole, FakePrefix, FakeTenant } from "./types.ts";

export function addIpamRole(
  db: NetboxDb,
  input: { name: string; slug?: string; weight?: number },
): FakeIpamRole {
  const slug = input.slug ?? slugify(input.name);
  uniqueNamed(db.ipamRoles, input.name, slug, "role");
  const role = {
    id: nextId(db, db.ipamRoles),
    name: input.name,
    slug,
    description: "",
    weight: input.weight ?? 1000,
  };
  db.ipamRoles.set(role.id, role);
  return role;
}

export function addPrefix(
  db: NetboxDb,
  input: { prefix: string; description?: string; isPool?: boolean; roleId?: number | null },
): FakePrefix {
  const c = parseCidr(input.prefix);
  if (!c) invalid("prefix", "CIDR mask (e.g. /24) is required.");
  const roleId = input.roleId ?? null;
  if (roleId !== null && !db.ipamRoles.has(roleId)) {
    invalid("role", `Invalid pk "${roleId}" - object does not exist.`);
  }
  // Netbox stores the network form of a prefix (10.16.28.5/24 → 10.16.28.0/24).
  const prefix = {
    id: nextId(db, db.prefixes),
    prefix: `${intToIpv4(c.network)}/${c.len}`,
    description: input.description ?? "",
    is_pool: input.isPool ?? false,
    status: "active",
    role_id: roleId,
  };
  db.prefixes.set(prefix.id, prefix);
  return prefix;
}

/** IPAddress.clean() and the global uniqueness check. */
export function validateIp(
  db: NetboxDb,
  ip: FakeIpAddress,
  selfId: number | null,
  original: FakeIpAddress | null,
) {
  const c = parseCidr(ip.address)!;
  if (c.len === 0) invalid("address", "Cannot create IP address with /0 mask.");
  const host = hostOf(ip.address);
  const dup = [...db.ipAddresses.values()].find((o) =>
    o.id !== selfId && hostOf(o.address) === host
  );
  if (dup) invalid("address", `Duplicate IP address found in global table: ${dup.address}`);
  if (!IP_STATUSES.includes(ip.status)) {
    invalid("status", `"${ip.status}" is not a valid choice.`);
  }
  if (assignedInterface(db, ip) && c.len < 31) {
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
    const before = assignedInterface(db, original);
    const after = assignedInterface(db, ip);
    const parent = before ? db.devices.get(before.device_id) : undefined;
    if (parent && parent.oob_ip_id === original.id && after?.device_id !== parent.id) {
      invalid(
        "__all__",
        "Cannot reassign IP address while it is designated as the OOB IP for the parent object",
      );
    }
  }
}

export function ipFromBody(
  db: NetboxDb,
  body: Record<string, unknown>,
  base: FakeIpAddress | null,
): FakeIpAddress {
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
  const assignment = assignmentFromBody(db, body, errors);
  let tenant: FakeTenant | null = null;
  if ("tenant" in body) {
    try {
      tenant = resolveRef("tenant", body.tenant, db.tenants, siteAttrs) as FakeTenant | null;
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

export function createIp(db: NetboxDb, body: Record<string, unknown>): FakeIpAddress {
  const ip = ipFromBody(db, body, null);
  validateIp(db, ip, null, null);
  ip.id = nextId(db, db.ipAddresses);
  db.ipAddresses.set(ip.id, ip);
  return ip;
}

export function addIp(
  db: NetboxDb,
  input: { address: string; description?: string; status?: string; interfaceId?: number | null },
): FakeIpAddress {
  return createIp(db, {
    address: input.address,
    description: input.description ?? "",
    status: input.status ?? "active",
    ...(input.interfaceId != null
      ? { assigned_object_type: "dcim.interface", assigned_object_id: input.interfaceId }
      : {}),
  });
}

export function deleteIp(db: NetboxDb, ip: FakeIpAddress) {
  for (const d of db.devices.values()) if (d.oob_ip_id === ip.id) d.oob_ip_id = null;
  db.ipAddresses.delete(ip.id);
}

/** Free host addresses of a prefix, lowest first (network/broadcast excluded unless a pool). */
export function* freeAddresses(db: NetboxDb, prefix: FakePrefix): Generator<string> {
  const c = parseCidr(prefix.prefix)!;
  const used = new Set<number>();
  for (const ip of db.ipAddresses.values()) {
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
