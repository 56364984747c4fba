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
} from "../domain/errors.ts";
import type { KeaClient } from "../integrations/kea/api.ts";
import type { KubernetesClient } from "../integrations/kubernetes.ts";
import { ANNOTATION_REGISTRATION_ID, LABEL_MANAGED_BY } from "../domain/metal3.ts";
import type { NetboxClient } from "../integrations/netbox.ts";
import { ipInPrefix, ipInSubnetProblem, unusableIpReason } from "../domain/ipv4.ts";
import type { RegistrationRequest, ResolvedRefs } from "../state/store.ts";

/** Netbox devices and Kea reservations found for a MAC. */
export type MacOwners = [
  { id: number; name: string }[],
  Awaited<ReturnType<KeaClient["findByMac"]>>,
];

/** What pre-flight looks at besides the resolved references. */
export interface PreflightInput {
  bmc_mac: string;
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
    prefix: prefix?.prefix,
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
  return sameName?.id;
}

/** How the allowed BMC networks read in a message. */
function allowedText(networks: readonly string[]): string {
  return networks.length
    ? `a BMC IP must be a host address in the BMC networks (${networks.join(", ")})`
    : "no BMC network is configured: set ONBOARDING_BMC_NETWORKS (or ONBOARDING_BMC_PREFIX)";
}

/**
 * Why a BMC IP must not be used, or null: it is not a host address, lies outside the BMC
 * networks (or outside the item's own CIDR prefix), or is the network or broadcast address of a
 * prefix or network that holds it. The BMC check and Metal3 send the BMC password to this IP.
 */
export function bmcIpProblem(
  ip: string,
  networks: readonly string[],
  prefixes: readonly string[] = [],
): string | null {
  const unusable = unusableIpReason(ip);
  if (unusable) return `${ip} is ${unusable}; ${allowedText(networks)}`;
  if (!networks.some((n) => ipInPrefix(ip, n))) {
    return networks.length
      ? `${ip} is outside the BMC networks (${networks.join(", ")})`
      : `${ip} cannot be used: ${allowedText(networks)}`;
  }
  for (const cidr of [...prefixes, ...networks]) {
    if (!prefixes.includes(cidr) && !ipInPrefix(ip, cidr)) continue;
    const problem = ipInSubnetProblem(ip, cidr);
    if (problem) return `${problem}; ${allowedText(networks)}`;
  }
  return null;
}

/**
 * Before anything is written: the given BMC IP, or the prefix it will be allocated from, lies in
 * the BMC networks. Throws `ValidationFailed` naming `bmc_ip` (or `bmc_prefix`).
 */
export function checkBmcAddress(
  input: { bmc_ip?: string; bmc_prefix?: string | number },
  networks: readonly string[],
  /** The CIDR of the Netbox prefix the IP will be allocated from, once resolved. */
  allocateFrom?: string,
): void {
  if (input.bmc_ip) {
    const own = typeof input.bmc_prefix === "string" && input.bmc_prefix.includes("/")
      ? [input.bmc_prefix]
      : [];
    const problem = bmcIpProblem(input.bmc_ip, networks, own);
    if (problem) throw new ValidationFailed({ bmc_ip: problem });
    return;
  }
  if (allocateFrom === undefined) return;
  const [base, len] = allocateFrom.split("/");
  const inside = networks.some((n) =>
    ipInPrefix(base, n) && Number(len) >= Number(n.split("/")[1])
  );
  if (!inside) {
    throw new ValidationFailed({
      bmc_prefix: networks.length
        ? `The Netbox prefix ${allocateFrom} is outside the BMC networks (${
          networks.join(", ")
        }): its addresses cannot be BMC IPs`
        : `A BMC IP cannot be allocated from ${allocateFrom}: ${allowedText(networks)}`,
    });
  }
}

/**
 * A new registration's device name must be nobody else's, Netbox fields or not: no BareMetalHost
 * of that name may exist (a new registration owns none yet; one being deleted must be gone
 * first), and without Netbox fields (`checkPreflight` looks within the site otherwise) no Netbox
 * device of that name may exist unless it carries this BMC MAC.
 */
export async function checkNameFree(
  name: string,
  options: {
    netbox?: NetboxClient;
    kubernetes?: KubernetesClient;
    namespace: string;
    mac: string;
    macOwners: Promise<MacOwners>;
    /** Netbox fields given: the name is checked within the site by `checkPreflight`. */
    withNetbox: boolean;
  },
): Promise<void> {
  const { netbox, kubernetes, namespace } = options;
  const [host, device, [macDevices]] = await Promise.all([
    kubernetes ? kubernetes.getBareMetalHost(namespace, name) : null,
    netbox && !options.withNetbox ? netbox.findDeviceByName(name) : null,
    options.macOwners,
  ]);
  if (host) {
    const meta = host.metadata;
    const owner = meta.annotations?.[ANNOTATION_REGISTRATION_ID]
      ? `registration ${meta.annotations[ANNOTATION_REGISTRATION_ID]}`
      : `managed by ${meta.labels?.[LABEL_MANAGED_BY] ?? "someone else"}`;
    throw new Conflict(
      meta.deletionTimestamp
        ? `BareMetalHost ${namespace}/${name} (${owner}) is still being deleted: waiting for the previous host to be deleted; register again once it is gone`
        : `A BareMetalHost named ${name} already exists in ${namespace} (${owner}); choose another device name`,
    );
  }
  if (device && !macDevices.some((d) => d.id === device.id)) {
    throw new Conflict(
      `Netbox already has a device named ${name} (id ${device.id}) without BMC MAC ${options.mac}; choose another name or fix Netbox`,
    );
  }
}
