/**
 * What a submit checks before anything is written: the BMC networks, the Netbox references and
 * the name, and who else holds the name, the MAC or the rack slot.
 */
import { bmcNetworks } from "../domain/config.ts";
import { Conflict, MacAlreadyRegistered, ValidationFailed } from "../domain/errors.ts";
import { deviceName, netboxDeviceUrl } from "../domain/names.ts";
import type { Registration, RegistrationRequest, ResolvedRefs } from "../state/store.ts";
import {
  checkBmcAddress,
  checkNameFree,
  checkPreflight,
  findMacOwners,
  type ReferenceMemo,
  resolveReferences,
} from "./preflight.ts";
import type { EngineDeps } from "./step.ts";

/** A validated register request or import item, password included (held only in memory). */
export interface SubmitInput extends RegistrationRequest {
  device_name?: string;
  bmc_mac: string;
  bmc_password: string;
  bmc_username?: string;
  boot_mac?: string;
  bmc_system?: string;
  /** Rotate the BMC password after the credential check; default ONBOARDING_BMC_ROTATE. */
  rotate?: boolean;
}

export interface SubmitContext {
  actor: string;
  source: "register" | "import";
  idempotencyKey?: string;
  /** Shared by the items of one bulk import. */
  references?: ReferenceMemo;
}

function netboxFieldsComplete(i: RegistrationRequest): boolean {
  return i.site !== undefined && i.location !== undefined && i.rack !== undefined &&
    i.position !== undefined && i.device_type !== undefined && i.device_role !== undefined;
}

/** Who already holds a BMC MAC (`GET /servers/mac/{mac}`). */
export interface MacHolders {
  bmc_mac: string;
  registration: { id: string; device_name: string; status: string } | null;
  netbox_devices: { id: number; name: string; url?: string }[];
  kea_reservations: { hostname?: string; ip: string; subnet_id: number }[];
}

/**
 * Who already holds a BMC MAC, read-only: this service's live registration, and Netbox devices
 * or Kea reservations that are not that registration's own.
 */
export async function macHolders(d: EngineDeps, mac: string): Promise<MacHolders> {
  const { store, config } = d;
  const [id, [devices, hosts]] = await Promise.all([
    store.idByMac(mac),
    findMacOwners(d.netbox, d.kea, mac),
  ]);
  const found = id ? await store.get(id) : null;
  const own = found && found.status !== "decommissioned" ? found : null;
  const ownName = own?.device_name.toLowerCase();
  return {
    bmc_mac: mac,
    registration: own && { id: own.id, device_name: own.device_name, status: own.status },
    netbox_devices: devices.filter((x) => x.name.toLowerCase() !== ownName).map((x) => ({
      id: x.id,
      name: x.name,
      ...(config.NETBOX_URL ? { url: netboxDeviceUrl(config.NETBOX_URL, x.id) } : {}),
    })),
    kea_reservations: hosts.filter((h) =>
      !ownName || h.hostname?.toLowerCase() !== `${ownName}-bmc`
    )
      .map((h) => ({ hostname: h.hostname, ip: h.ip, subnet_id: h.subnetId })),
  };
}

/** Resolves the references and the name, and refuses conflicts; `repeat` is a re-submit. */
export async function checkSubmission(
  d: EngineDeps,
  input: Omit<SubmitInput, "bmc_password">,
  references: ReferenceMemo,
): Promise<{
  name: string;
  request: RegistrationRequest;
  resolved?: ResolvedRefs;
  repeat?: Registration;
}> {
  const { store } = d;
  const request: RegistrationRequest = {
    site: input.site,
    location: input.location,
    rack: input.rack,
    position: input.position,
    device_type: input.device_type,
    device_role: input.device_role,
    bmc_prefix: input.bmc_prefix ?? d.config.BMC_PREFIX,
    tenant: input.tenant,
    bmc_ip: input.bmc_ip,
  };
  // Nothing may receive the BMC password outside the BMC networks: check before any lookup.
  const networks = bmcNetworks(d.config);
  checkBmcAddress(request, networks);
  const withNetbox = netboxFieldsComplete(request) && d.netbox !== undefined;
  // Who else holds this MAC does not depend on the references: ask while they resolve.
  const macOwners = findMacOwners(d.netbox, d.kea, input.bmc_mac);
  macOwners.catch(() => {}); // awaited (and thrown) in checkPreflight
  const resolved = withNetbox ? await resolveReferences(d.netbox!, request, references) : undefined;
  if (resolved?.prefix) checkBmcAddress(request, networks, resolved.prefix);
  const name = input.device_name ?? (resolved
    ? deviceName(
      { site: resolved.siteSlug, rack: resolved.rackName, position: request.position! },
      d.config.DEVICE_NAME_TEMPLATE,
    )
    : undefined);
  if (!name) {
    throw new ValidationFailed({
      device_name: "Required unless site, location, rack, position, device type and role are given",
    });
  }

  // Same name and MAC as an existing registration: this is a repeat; run it again idempotently.
  const existingId = (await store.idByName(name)) ?? (await store.idByMac(input.bmc_mac));
  if (existingId) {
    const existing = await store.mustGet(existingId);
    if (existing.status !== "decommissioned") {
      if (existing.device_name !== name) {
        throw new MacAlreadyRegistered(input.bmc_mac, existing.device_name);
      }
      if (existing.bmc_mac !== input.bmc_mac) {
        throw new Conflict(
          `Device ${name} is already registered with BMC MAC ${existing.bmc_mac}`,
        );
      }
      return { name, request, resolved, repeat: existing };
    }
  }

  const [existingDeviceId] = await Promise.all([
    checkPreflight(d.netbox, name, input, resolved, macOwners),
    checkNameFree(name, {
      netbox: d.netbox,
      kubernetes: d.kubernetes,
      namespace: d.config.METAL3_NAMESPACE,
      mac: input.bmc_mac,
      macOwners,
      withNetbox: resolved !== undefined,
    }),
  ]);
  if (resolved && existingDeviceId !== undefined) resolved.existingDeviceId = existingDeviceId;
  return { name, request, resolved };
}
