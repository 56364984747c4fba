/** How each vendor's BMC names its systems, NICs and UEFI boot options (HPE iLO, AMI, Dell). */
import type { FakeBootEntry, RedfishVendor } from "./types.ts";

export interface Profile {
  manufacturer: string;
  model: string;
  systemId: string;
  product: string;
  oem: string;
  nicId: (port: number) => string;
  /** Member id and BootOptionReference of the k-th boot option (0-based). */
  bootOption: (k: number) => { id: string; ref: string };
  /** DisplayName and UefiDevicePath of a boot entry for NIC `port` (1-based) with `mac` (hex). */
  bootEntry: (e: FakeBootEntry, port: number, mac: string, k: number) => [string, string];
}

export const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");

/** UEFI device paths of network boot entries as HPE iLO 5 and AMI firmware report them. */
export function macPath(kind: string, port: number, mac: string): string {
  const base = `PciRoot(0x0)/Pci(0x1C,0x${port.toString(16)})/Pci(0x0,0x0)/MAC(${mac},0x1)`;
  if (kind === "pxe6") return `${base}/IPv6(0000:0000:0000:0000:0000:0000:0000:0000)`;
  if (kind === "http") return `${base}/IPv4(0.0.0.0)/Uri()`;
  return `${base}/IPv4(0.0.0.0)`;
}

export const OTHER_DEVICES: Record<"disk" | "cd" | "shell", [string, string]> = {
  disk: ["UEFI OS (M.2 NVMe 480GB)", "PciRoot(0x3)/Pci(0x0,0x0)/Pci(0x0,0x0)/NVMe(0x1,00-00)"],
  cd: [
    "UEFI: AMI Virtual CDROM0 1.00",
    "PciRoot(0x0)/Pci(0x14,0x0)/USB(0x0,0x0)/USB(0x1,0x0)/CDROM(0x1,0x22,0xB40)",
  ],
  shell: ["UEFI Shell", "Fv(CDBB7B35-6833-4ED6-9AB2-57D2ACDDF6F0)/FvFile(C57AD6B7-0515-40A8)"],
};

export const amiEntry: Profile["bootEntry"] = (e, port, mac) => {
  if (e.kind === "disk" || e.kind === "cd" || e.kind === "shell") return OTHER_DEVICES[e.kind];
  const what = e.kind === "http" ? "HTTP IP4" : e.kind === "pxe6" ? "PXE IP6" : "PXE IP4";
  return [`UEFI: ${what} Intel(R) Ethernet Controller X550`, macPath(e.kind, port, mac)];
};

export const PROFILES: Record<RedfishVendor, Profile> = {
  Supermicro: {
    manufacturer: "Supermicro",
    model: "SYS-1029U-TRT",
    systemId: "1",
    product: "",
    oem: "Supermicro",
    nicId: (p) => String(p),
    bootOption: (k) => ({ id: hex4(k + 1), ref: `Boot${hex4(k + 1)}` }),
    bootEntry: amiEntry,
  },
  Gigabyte: {
    manufacturer: "GIGABYTE",
    model: "R272-Z32-00",
    systemId: "Self",
    product: "AMI Redfish Server",
    oem: "Ami",
    nicId: (p) => String(p),
    bootOption: (k) => ({ id: hex4(k + 3), ref: `Boot${hex4(k + 3)}` }),
    bootEntry: amiEntry,
  },
  Dell: {
    manufacturer: "Dell Inc.",
    model: "PowerEdge R650",
    systemId: "System.Embedded.1",
    product: "Integrated Dell Remote Access Controller",
    oem: "Dell",
    nicId: (p) => `NIC.Integrated.1-${p}-1`,
    bootOption: (k) => ({ id: `Boot${hex4(k + 1)}`, ref: `Boot${hex4(k + 1)}` }),
    // iDRAC names network boot devices after the NIC; the device path is a vendor node.
    bootEntry: (e, port, _mac, k) => {
      if (e.kind === "disk") {
        return ["Integrated RAID Controller 1: Ubuntu", "HD(1,GPT,2E3F,0x800,0x100000)"];
      }
      if (e.kind === "cd" || e.kind === "shell") return OTHER_DEVICES[e.kind];
      const what = e.kind === "http" ? "HTTP Device" : "PXE Device";
      return [
        `${what} ${k + 1}: Integrated NIC 1 Port ${port} Partition 1`,
        "VenHw(3A191845-5F86-4E78-8FCE-C4CFF59F9DAA)",
      ];
    },
  },
  HPE: {
    manufacturer: "HPE",
    model: "ProLiant DL360 Gen10",
    systemId: "1",
    product: "ProLiant DL360 Gen10",
    oem: "Hpe",
    nicId: (p) => String(p),
    // iLO numbers its BootOptions members 1, 2, …; the references are the UEFI variables.
    bootOption: (k) => ({ id: String(k + 1), ref: `Boot${hex4(k + 0x10)}` }),
    bootEntry: (e, port, mac) => {
      if (e.kind === "disk" || e.kind === "cd" || e.kind === "shell") return OTHER_DEVICES[e.kind];
      const what = e.kind === "http" ? "HTTP(S) IPv4" : e.kind === "pxe6" ? "PXE IPv6" : "PXE IPv4";
      const card = port === 1 ? "OCP 3.0 Slot 14 Port 1" : `Slot 1 Port ${port - 1}`;
      return [`${card} : Intel(R) Ethernet E810-XXV - NIC (${what})`, macPath(e.kind, port, mac)];
    },
  },
  Lenovo: {
    manufacturer: "Lenovo",
    model: "ThinkSystem SR650",
    systemId: "1",
    product: "ThinkSystem SR650",
    oem: "Lenovo",
    nicId: (p) => `NIC${p}`,
    bootOption: (k) => ({ id: `Boot${hex4(k + 1)}`, ref: `Boot${hex4(k + 1)}` }),
    bootEntry: amiEntry,
  },
};

export const BASE_REGISTRY = "Base.1.19";
/** AccountLockoutDuration and AccountLockoutCounterResetAfter of the fake BMCs. */
export const LOCKOUT_SECONDS = 300;
export const SESSIONS_PATH = "/redfish/v1/SessionService/Sessions";

/** Default boot order: the disk first, then PXE IPv4 and HTTP of every port in port order. */
export function defaultBootOrder(ports: number): FakeBootEntry[] {
  const order: FakeBootEntry[] = [{ kind: "disk" }];
  for (let i = 0; i < ports; i++) order.push({ kind: "pxe4", nic: i }, { kind: "http", nic: i });
  return order;
}

/** The MAC of system `k`'s copy of a NIC: the fifth octet plus k. */
export function macOfSystem(mac: string, k: number): string {
  const octets = mac.toLowerCase().replace(/[^0-9a-f]/g, "").match(/../g)!;
  octets[4] = ((parseInt(octets[4], 16) + k) % 256).toString(16).padStart(2, "0");
  return octets.join(":");
}

/** Creates a fake BMC that speaks Redfish. */
