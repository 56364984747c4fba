/** The Netbox step: the device, its BMC interface with the MAC, and the BMC IP as its OOB IP. */
import type { NetboxClient } from "../../integrations/netbox.ts";
import type { Registration, ResolvedRefs } from "../../state/store.ts";
import { type EngineDeps, StepEnd } from "../step.ts";

/** An address without its prefix length. */
const bare = (address: string) => address.split("/")[0];

/** Device, BMC interface, MAC and IP in Netbox; calls `ipKnown` once the BMC IP is recorded. */
export async function netboxStep(
  d: EngineDeps,
  r: Registration,
  ipKnown: () => void,
): Promise<string> {
  const nb = d.netbox;
  if (!r.resolved || !nb) {
    throw new StepEnd(
      "skipped",
      nb
        ? "Netbox step skipped: site, location, rack, position, device_type and device_role are all needed"
        : "Netbox is not configured: the device was not registered in DCIM/IPAM",
    );
  }
  const { store } = d;
  const ref = r.resolved;
  let deviceId = r.created.netbox_device_id;
  let found = r.created.netbox_device_preexisting === true;
  if (!deviceId) {
    // Pre-flight already looked: reuse the device only when it carried this BMC MAC.
    const preexisting = ref.existingDeviceId !== undefined;
    const device = preexisting ? { id: ref.existingDeviceId! } : await createDevice(nb, r, ref);
    deviceId = device.id;
    found = preexisting;
    await store.update(r.id, (x) => {
      x.created.netbox_device_id = device.id;
      x.created.netbox_device_preexisting = preexisting;
    });
  }
  const iface = await nb.ensureBmcInterface(deviceId);
  // The interface and MAC ids go with the IP (or the step's end): a re-run finds both again.
  store.later(r.id, (x) => x.created.netbox_interface_id = iface.id);
  // The MAC and the IP hang off the interface independently: set both at once.
  const macWrite = nb.setInterfaceMac(iface.id, r.bmc_mac).then((mac) =>
    store.later(r.id, (x) => x.created.netbox_mac_id = mac.macId)
  );
  macWrite.catch(() => {}); // awaited below
  if (!r.request.bmc_ip && ref.prefixId === undefined) {
    // As the original system: the device is registered, the IP steps wait for an address.
    await macWrite;
    await store.update(r.id, (x) =>
      x.warnings.push(
        "No BMC IP: give bmc_ip or bmc_prefix, or set ONBOARDING_BMC_PREFIX, to record the BMC IP, reserve it in Kea and create the BareMetalHost",
      ));
    return `Device ${deviceId} with its BMC interface; no BMC IP (no bmc_ip, bmc_prefix or ONBOARDING_BMC_PREFIX)`;
  }
  const tenant = { tenantId: ref.tenantId };
  const ip = r.request.bmc_ip
    ? await nb.assignIp(r.request.bmc_ip, iface.id, tenant)
    : await nb.allocateIp(ref.prefixId!, iface.id, {
      description: `BMC of ${r.device_name}`,
      ...tenant,
    });
  await store.update(r.id, (x) => {
    x.created.netbox_ip_id = ip.id;
    x.bmc_ip = bare(ip.address);
  });
  ipKnown();
  await Promise.all([macWrite, nb.setOobIp(deviceId, ip.id)]);
  // Said for people; the ids are in the created objects.
  return `${found ? "Found" : "Created"} ${r.device_name} in Netbox, BMC address ${
    bare(ip.address)
  }`;
}

/** Creates the device; after a crash between create and record, adopts the one we made. */
async function createDevice(
  nb: NetboxClient,
  r: Registration,
  ref: ResolvedRefs,
): Promise<{ id: number }> {
  try {
    return await nb.createDevice({
      name: r.device_name,
      siteId: ref.siteId,
      locationId: ref.locationId,
      rackId: ref.rackId,
      position: r.request.position!,
      deviceTypeId: ref.deviceTypeId,
      roleId: ref.roleId,
      tenantId: ref.tenantId,
    });
  } catch (e) {
    const found = await nb.findDeviceByName(r.device_name, ref.siteId);
    if (found && found.rack_id === ref.rackId && found.position === r.request.position) {
      return found;
    }
    throw e;
  }
}
