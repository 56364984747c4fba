/**
 * Pre-flight for a registration: resolve the Netbox references and refuse conflicts before
 * anything is written.
 */
import {
  Conflict,
  MacAlreadyRegistered,
  RackSlotTaken,
  UnknownReference,
  ValidationFailed,
} from "./errors.ts";
import type { KeaClient } from "./kea.ts";
import type { NetboxClient } from "./netbox.ts";
import { ipInPrefix } from "./schemas.ts";
import type { RegistrationRequest, ResolvedRefs } from "./store.ts";

/** Netbox devices and Kea reservations found for a MAC. */
export type MacOwners = [
  { id: number; name: string }[],
  Awaited<ReturnType<KeaClient["findByMac"]>>,
];

/** What pre-flight looks at besides the resolved references. */
export interface PreflightInput {
  bmc_mac: string;
  bmc_ip?: string;
  bmc_prefix?: string | number;
  position?: number;
}

/**
 * References already resolved within one bulk import, by the fields they come from: a thousand
 * servers in twenty racks ask Netbox about twenty racks, not a thousand.
 */
export type ReferenceMemo = Map<string, Promise<ResolvedRefs>>;

/**
 * Resolves every Netbox reference (through `memo` when given) and checks that the device fits at
 * its position in the rack.
 */
export async function resolveReferences(
  nb: NetboxClient,
  req: RegistrationRequest,
  memo?: ReferenceMemo,
): Promise<ResolvedRefs> {
  let refs: ResolvedRefs;
  if (memo) {
    const key = JSON.stringify([
      req.site,
      req.location,
      req.rack,
      req.device_type,
      req.device_role,
      req.tenant,
      req.bmc_ip ? null : req.bmc_prefix,
    ]);
    let found = memo.get(key);
    if (!found) {
      found = lookUpReferences(nb, req);
      memo.set(key, found);
      found.catch(() => memo.delete(key)); // the next item asks again
    }
    refs = { ...await found };
  } else refs = await lookUpReferences(nb, req);
  const position = req.position!;
  if (position + refs.uHeight - 1 > refs.rackHeight) {
    throw new ValidationFailed({
      position:
        `A ${refs.uHeight}U device at U${position} does not fit in ${refs.rackName} (${refs.rackHeight}U)`,
    });
  }
  return refs;
}

/** Looks up every reference, concurrently where they do not depend on each other. */
async function lookUpReferences(
  nb: NetboxClient,
  req: RegistrationRequest,
): Promise<ResolvedRefs> {
  const must = <T>(field: string, value: string | number, found: T | null): T => {
    if (!found) throw new UnknownReference(field, value);
    return found;
  };
  const [site, deviceType, role, tenant, prefix] = await Promise.all([
    nb.findSite(req.site!),
    nb.findDeviceType(req.device_type!),
    nb.findDeviceRole(req.device_role!),
    req.tenant !== undefined ? nb.findTenant(req.tenant) : null,
    req.bmc_prefix !== undefined && !req.bmc_ip ? nb.findPrefix(req.bmc_prefix) : null,
  ]);
  const s = must("site", req.site!, site);
  const dt = must("device_type", req.device_type!, deviceType);
  const ro = must("device_role", req.device_role!, role);
  if (req.tenant !== undefined) must("tenant", req.tenant, tenant);
  if (req.bmc_prefix !== undefined && !req.bmc_ip) must("bmc_prefix", req.bmc_prefix, prefix);
  if (!req.bmc_ip && req.bmc_prefix === undefined) {
    throw new ValidationFailed({
      bmc_prefix:
        "Required: the Netbox prefix to take the BMC IP from (or set ONBOARDING_BMC_PREFIX)",
    });
  }
  // Location and rack side by side; the rack must then turn out to be in that location.
  const [foundLocation, siteRack] = await Promise.all([
    nb.findLocation(req.location!, s.id),
    nb.findRack(req.rack!, { siteId: s.id }).catch((e) => {
      if (e instanceof Conflict) return undefined; // same name in two locations: ask by location
      throw e;
    }),
  ]);
  const location = must("location", req.location!, foundLocation);
  const rack = must(
    "rack",
    req.rack!,
    siteRack === undefined
      ? await nb.findRack(req.rack!, { siteId: s.id, locationId: location.id })
      : siteRack?.location_id === location.id
      ? siteRack
      : null,
  );
  return {
    siteId: s.id,
    siteSlug: s.slug ?? s.name,
    siteName: s.name,
    locationId: location.id,
    locationName: location.name,
    rackId: rack.id,
    rackName: rack.name,
    rackHeight: rack.u_height,
    deviceTypeId: dt.id,
    uHeight: Math.max(1, dt.u_height),
    roleId: ro.id,
    tenantId: tenant?.id,
    prefixId: prefix?.id,
  };
}

/** Netbox devices and Kea reservations that carry this MAC. */
export function findMacOwners(
  netbox: NetboxClient | undefined,
  kea: KeaClient | undefined,
  mac: string,
): Promise<MacOwners> {
  return Promise.all([
    netbox ? netbox.findDevicesByMac(mac) : [],
    kea ? kea.findByMac(mac) : [],
  ]);
}

/**
 * Before anything is written: rack units free or already this device's, the MAC not someone
 * else's. Returns the id of a same-name Netbox device that already carries this MAC.
 */
export async function checkPreflight(
  netbox: NetboxClient | undefined,
  name: string,
  input: PreflightInput,
  resolved: ResolvedRefs | undefined,
  macOwners: Promise<MacOwners>,
): Promise<number | undefined> {
  const [rackDevices, [macDevices, keaHosts], sameName] = await Promise.all([
    resolved ? netbox!.rackDevices(resolved.rackId) : [],
    macOwners,
    resolved ? netbox!.findDeviceByName(name, resolved.siteId) : null,
  ]);
  const otherWithMac = macDevices.find((d) => d.name.toLowerCase() !== name);
  if (otherWithMac) {
    throw new MacAlreadyRegistered(input.bmc_mac, `Netbox device ${otherWithMac.name}`);
  }
  const otherReservation = keaHosts.find((h) =>
    h.hostname && h.hostname.toLowerCase() !== `${name}-bmc`
  );
  if (otherReservation) {
    throw new MacAlreadyRegistered(
      input.bmc_mac,
      `Kea reservation ${otherReservation.hostname} (${otherReservation.ip}, subnet ${otherReservation.subnetId})`,
    );
  }
  if (resolved) {
    const first = input.position!;
    const last = first + resolved.uHeight - 1;
    for (const d of rackDevices) {
      if (d.position == null || d.name?.toLowerCase() === name) continue;
      const dLast = d.position + Math.max(1, d.u_height) - 1;
      if (d.position <= last && dLast >= first) {
        throw new RackSlotTaken(
          resolved.rackName,
          Math.max(first, d.position),
          d.name ?? `device ${d.id}`,
        );
      }
    }
    // A Netbox device of that name is only reused when it already carries this BMC MAC.
    if (sameName && !macDevices.some((d) => d.id === sameName.id)) {
      throw new Conflict(
        `Netbox already has a device named ${name} without BMC MAC ${input.bmc_mac}; choose another name or fix Netbox`,
      );
    }
  }
  if (
    input.bmc_ip && typeof input.bmc_prefix === "string" &&
    !ipInPrefix(input.bmc_ip, input.bmc_prefix)
  ) {
    throw new ValidationFailed({
      bmc_ip: `${input.bmc_ip} is not inside the BMC prefix ${input.bmc_prefix}`,
    });
  }
  return sameName?.id;
}
