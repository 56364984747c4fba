/** Drift in Netbox: the device, its bmc interface, MAC and IP; devices with no record. */
import { bmcNetworks } from "../../domain/config.ts";
import type {
  BmcInterface,
  InventoryDevice,
  NetboxClient,
  NetboxIp,
} from "../../integrations/netbox.ts";
import type { Registration } from "../../state/store.ts";
import type { Add, DriftDeps } from "./types.ts";

export async function checkNetbox(
  d: DriftDeps,
  nb: NetboxClient,
  all: Registration[],
  full: boolean,
  add: Add,
): Promise<void> {
  const [devices, interfaces, ips] = await Promise.all([
    nb.listDevices(),
    nb.bmcInterfaces(),
    Promise.all(bmcNetworks(d.config).map((n) => nb.ipsIn(n))).then((l) => l.flat()),
  ]);
  const deviceById = new Map<number, InventoryDevice>(devices.map((x) => [x.id, x]));
  const ifaceByDevice = new Map<number, BmcInterface>(interfaces.map((i) => [i.device_id, i]));
  const ipByAddress = new Map<string, NetboxIp>(ips.map((ip) => [ip.address.split("/")[0], ip]));
  const known = new Set<number>();
  for (const r of all) {
    const id = r.created.netbox_device_id;
    if (id === undefined) continue;
    known.add(id);
    if (r.status !== "ok") continue;
    const device = deviceById.get(id);
    const ref = r.resolved;
    if (!device) {
      add(r, "netbox_device_missing", {
        where: `dcim.device ${id}`,
        expected: `device ${r.device_name} (id ${id})`,
        found: "no such device",
        ...(r.created.netbox_device_preexisting
          ? { repair: "None: the device was not created by the service; register it again" }
          : {
            repair: "Create the device again with its BMC interface, MAC and IP",
            step: "netbox",
          }),
      });
      continue;
    }
    if (ref) {
      const want = `${r.device_name} at ${ref.siteSlug}/${ref.rackName} U${r.request.position}`;
      const have = `${device.name} at ${device.site?.slug ?? device.site?.name ?? "-"}/${
        device.rack?.name ?? "-"
      } U${device.position ?? "-"}`;
      if (
        device.name !== r.device_name || device.site?.id !== ref.siteId ||
        device.rack?.id !== ref.rackId || device.position !== r.request.position
      ) {
        add(r, "netbox_device_changed", {
          where: `dcim.device ${id}`,
          expected: want,
          found: have,
          repair:
            "Put the device back (name, site, rack, U): a person changed it, so only with force",
          step: "netbox",
          needs_force: true,
        });
      }
    }
    // An OOB IP a person set to another address is reported whatever else is missing: the
    // Netbox step that repairs the rest would set it back.
    if (r.bmc_ip && device.bmc_ip && device.bmc_ip !== r.bmc_ip) {
      add(r, "netbox_oob_ip_changed", {
        where: `dcim.device ${id}`,
        expected: r.bmc_ip,
        found: device.bmc_ip,
        repair: "Set the OOB IP back: a person changed it, so only with force",
        step: "netbox",
        needs_force: true,
      });
    }
    const iface = ifaceByDevice.get(id);
    if (!iface) {
      add(r, "netbox_interface_missing", {
        where: `dcim.device ${id}`,
        expected: `interface bmc with MAC ${r.bmc_mac}`,
        found: "no bmc interface",
        repair: "Create the bmc interface with the MAC and assign the IP",
        step: "netbox",
      });
      continue;
    }
    if (iface.mac !== r.bmc_mac) {
      add(r, "netbox_mac_changed", {
        where: `dcim.interface ${iface.id}`,
        expected: r.bmc_mac,
        found: iface.mac ?? "no MAC",
        ...(iface.mac === null
          ? { repair: "Put the MAC on the bmc interface", step: "netbox" as const }
          : {
            repair: "Put the recorded MAC back: a person changed it, so only with force",
            step: "netbox" as const,
            needs_force: true,
          }),
      });
    }
    if (!r.bmc_ip) continue;
    const ip = ipByAddress.get(r.bmc_ip);
    if (!ip || ip.interface_id !== iface.id) {
      add(r, "netbox_ip_unassigned", {
        where: `dcim.interface ${iface.id}`,
        expected: `${r.bmc_ip} assigned to the bmc interface`,
        found: !ip
          ? `${r.bmc_ip} is not in IPAM`
          : ip.interface_id === null
          ? `${r.bmc_ip} is not assigned`
          : `${r.bmc_ip} is assigned to interface ${ip.interface_id}`,
        repair: ip?.interface_id
          ? "None while the IP is assigned elsewhere: free it in Netbox first"
          : "Assign the IP to the bmc interface and set it as OOB IP",
        ...(ip?.interface_id ? {} : { step: "netbox" as const }),
      });
      continue;
    }
    if (!device.bmc_ip) {
      add(r, "netbox_oob_ip_changed", {
        where: `dcim.device ${id}`,
        expected: r.bmc_ip,
        found: "no OOB IP",
        repair: "Set the OOB IP",
        step: "netbox",
      });
    }
  }
  if (!full) return;
  for (const iface of interfaces) {
    if (known.has(iface.device_id)) continue;
    add(null, "netbox_unknown_device", {
      server: iface.device_name || `device ${iface.device_id}`,
      where: `dcim.device ${iface.device_id}`,
      expected: "a registration for every device with a bmc interface",
      found: `device ${iface.device_id} with bmc interface${
        iface.mac ? ` (MAC ${iface.mac})` : ""
      }`,
      repair: "None: unknown to the service, left untouched",
      unknown: true,
    });
  }
}
