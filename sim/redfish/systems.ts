/** The ComputerSystems: EthernetInterfaces, boot order and BootOptions, NetworkDeviceFunctions. */
import type { Bmc } from "./bmc.ts";
import { macOfSystem } from "./profiles.ts";

/** One ComputerSystem with its NICs, boot options and network device functions. */
export function addSystem(bmc: Bmc, systemId: string, k: number) {
  const systemPath = `/redfish/v1/Systems/${systemId}`;
  const macs = bmc.nics.map((n) => macOfSystem(n.mac, k));
  bmc.macsBySystem.set(systemPath, macs);
  const ports = new Map<number, number>(); // nic index → physical port number (host NICs)
  bmc.nics.forEach((n, i) => !n.toManager && ports.set(i, ports.size + 1));
  const nicId = (i: number) =>
    bmc.nics[i].id ?? (bmc.nics[i].toManager ? "ToManager" : bmc.profile.nicId(ports.get(i)!));
  const nicPath = (i: number) => `${systemPath}/EthernetInterfaces/${nicId(i)}`;
  const functionPath = (i: number) =>
    `/redfish/v1/Chassis/${k + 1}/NetworkAdapters/NIC1/NetworkDeviceFunctions/${nicId(i)}`;
  const order = bmc.options.listOrder ?? bmc.nics.map((_, i) => i);
  const options_ = bmc.legacy ? [] : bmc.bootOrder.map((entry, j) => {
    const i = "nic" in entry ? entry.nic : -1;
    const mac = i >= 0 ? macs[i].replace(/:/g, "").toUpperCase() : "";
    const [name, path] = bmc.profile.bootEntry(entry, ports.get(i) ?? 0, mac, j);
    const { id, ref } = bmc.profile.bootOption(j);
    return { entry, id, ref, name, path };
  });
  const bootOrderRefs = bmc.legacy
    ? bmc.bootOrder.map((e) =>
      "nic" in e
        ? nicId(e.nic)
        : e.kind === "disk"
        ? "HardDisk.List.1-1"
        : "Optical.SATAEmbedded.J-1"
    )
    : options_.map((o) => o.ref);

  bmc.resources.set(systemPath, () => ({
    "@odata.id": systemPath,
    "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
    Id: systemId,
    Name: bmc.systemIds.length > 1 ? `Node ${k}` : "System",
    Manufacturer: bmc.profile.manufacturer,
    Model: bmc.options.model ?? bmc.profile.model,
    SKU: "",
    SerialNumber: bmc.systemIds.length > 1 ? `${bmc.serial}-${k}` : bmc.serial,
    UUID: `00000000-0000-0000-0000-3cecefa19ce${k}`,
    PowerState: "Off",
    SystemType: "Physical",
    Boot: {
      BootSourceOverrideEnabled: "Disabled",
      BootSourceOverrideTarget: "None",
      BootSourceOverrideMode: bmc.legacy ? "Legacy" : "UEFI",
      BootOrder: bootOrderRefs,
      ...(bmc.legacy ? {} : { BootOptions: { "@odata.id": `${systemPath}/BootOptions` } }),
    },
    EthernetInterfaces: { "@odata.id": `${systemPath}/EthernetInterfaces` },
  }));
  bmc.resources.set(`${systemPath}/EthernetInterfaces`, () => ({
    "@odata.id": `${systemPath}/EthernetInterfaces`,
    "@odata.type": "#EthernetInterfaceCollection.EthernetInterfaceCollection",
    Name: "Ethernet Interface Collection",
    "Members@odata.count": order.length,
    Members: order.map((i) => ({ "@odata.id": nicPath(i) })),
  }));
  bmc.nics.forEach((nic, i) => {
    const mac = macs[i];
    bmc.resources.set(nicPath(i), () => ({
      "@odata.id": nicPath(i),
      "@odata.type": "#EthernetInterface.v1_6_0.EthernetInterface",
      Id: nicId(i),
      Name: nic.toManager ? "Host Ethernet Interface" : `Ethernet Interface ${ports.get(i)}`,
      Description: nic.toManager ? "Host Network Interface" : `System NIC ${ports.get(i)}`,
      // Vendors differ in case and in which of the two properties they fill.
      MACAddress: bmc.vendor === "Dell" ? mac.toUpperCase() : mac,
      PermanentMACAddress: bmc.vendor === "HPE" ? undefined : mac,
      ...(nic.toManager
        ? { Links: { HostInterface: { "@odata.id": "/redfish/v1/Managers/1/HostInterfaces/1" } } }
        : {
          EthernetInterfaceType: "Physical",
          LinkStatus: nic.link ?? (ports.get(i) === 1 ? "LinkUp" : "NoLink"),
          ...(nic.functionBootMode
            ? { Links: { NetworkDeviceFunctions: [{ "@odata.id": functionPath(i) }] } }
            : {}),
        }),
    }));
    if (nic.functionBootMode) {
      bmc.resources.set(functionPath(i), () => ({
        "@odata.id": functionPath(i),
        "@odata.type": "#NetworkDeviceFunction.v1_9_0.NetworkDeviceFunction",
        Id: nicId(i),
        Name: "Network Device Function",
        NetDevFuncType: "Ethernet",
        BootMode: nic.functionBootMode,
        Ethernet: { MACAddress: mac, PermanentMACAddress: mac },
      }));
    }
  });
  if (bmc.legacy) return;
  bmc.resources.set(`${systemPath}/BootOptions`, () => ({
    "@odata.id": `${systemPath}/BootOptions`,
    "@odata.type": "#BootOptionCollection.BootOptionCollection",
    Name: "Boot Options",
    "Members@odata.count": options_.length,
    Members: options_.map((o) => ({ "@odata.id": `${systemPath}/BootOptions/${o.id}` })),
  }));
  for (const o of options_) {
    const path = `${systemPath}/BootOptions/${o.id}`;
    bmc.resources.set(path, () => ({
      "@odata.id": path,
      "@odata.type": "#BootOption.v1_0_4.BootOption",
      Id: o.id,
      Name: "Boot Option",
      BootOptionReference: o.ref,
      BootOptionEnabled: "enabled" in o.entry ? o.entry.enabled !== false : true,
      DisplayName: o.name,
      UefiDevicePath: o.path,
    }));
  }
}
