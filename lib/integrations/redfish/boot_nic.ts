/** Which host NIC boots: from the boot order, else the one network device function set to PXE. */
import { canonicalMac } from "../../domain/mac.ts";
import type { HostNic } from "../../domain/model.ts";
import {
  arrayOf,
  AT_ONCE,
  type Ctx,
  get,
  type Got,
  type Json,
  lastSegment,
  objectOf,
  odataId,
  str,
} from "./wire.ts";

export interface Candidate extends HostNic {
  /** Links to the NIC's NetworkDeviceFunctions. */
  functions: string[];
}

/** The host NICs that could boot: not the BMC's own MAC, not the host's internal link to the BMC
 * (DMTF `ToManager`, a USB NIC), one entry per MAC. */
export function hostNics(read: Got[], bmcMac?: string): Candidate[] {
  const out: Candidate[] = [];
  for (const nic of read) {
    if (nic.kind === "failed") continue;
    const b = nic.body;
    const mac = canonicalMac(str(b.MACAddress)) ?? canonicalMac(str(b.PermanentMACAddress));
    if (!mac || mac === bmcMac || out.some((n) => n.mac === mac)) continue;
    const links = objectOf(b.Links);
    const words = `${str(b.Id)} ${str(b.Name)} ${str(b.Description)}`;
    if (links.HostInterface || /\bToManager\b|\bUSB\b/i.test(words)) continue;
    out.push({
      id: str(b.Id) || lastSegment(odataId(b) ?? ""),
      mac,
      link: str(b.LinkStatus),
      functions: arrayOf(links.NetworkDeviceFunctions).map(odataId).filter((p): p is string =>
        Boolean(p)
      ),
    });
  }
  return out;
}

export interface Choice {
  mac: string;
  reason: string;
}

/**
 * The boot NIC when the BMC's answer is unambiguous: the only host NIC, else the first network
 * entry of the boot order (PXE over IPv4, then HTTP) resolved to a host NIC through the boot
 * option's UEFI device path `MAC(…)` (HPE, AMI) or a Dell NIC name (`NIC.Integrated.1-1-1`, or
 * "Integrated NIC 1 Port 1 Partition 1" in the option's name). NIC list order means nothing.
 */
export function chooseFromBootOrder(
  nics: Candidate[],
  bootOrder: string[],
  options: Got[],
  bmcMac?: string,
): Choice | null {
  if (nics.length === 1) return { mac: nics[0].mac, reason: `the only host NIC (${nics[0].id})` };
  const bodies = options.flatMap((o) => o.kind === "ok" ? [o.body] : []);
  const entries = bootOrder.map((ref) => bootEntry(ref, bodies, nics, bmcMac));
  for (const [kind, what] of [["pxe4", "PXE (IPv4)"], ["http", "HTTP boot"]] as const) {
    const first = entries.find((e) => e?.kind === kind);
    // The first such entry decides; a later one would be a guess.
    if (first) {
      return first.mac
        ? { mac: first.mac, reason: `the first ${what} entry of the boot order, ${first.label}` }
        : null;
    }
  }
  return null;
}

/** A boot order entry: whether it boots from the network, and from which host NIC. */
export function bootEntry(
  ref: string,
  options: Json[],
  nics: Candidate[],
  bmcMac?: string,
): { kind: "pxe4" | "http" | "v6"; label: string; mac?: string } | null {
  const option = options.find((o) => str(o.BootOptionReference) === ref) ??
    options.find((o) => str(o.Id) === ref);
  const byName = (fqdd: string | null) =>
    fqdd ? nics.find((n) => n.id.toLowerCase() === fqdd.toLowerCase())?.mac : undefined;
  if (!option) {
    // Dell in legacy BIOS mode names the NIC itself in the boot order.
    const fqdd = dellNicName(ref);
    return fqdd ? { kind: "pxe4", label: ref, mac: byName(fqdd) } : null;
  }
  if (option.BootOptionEnabled === false) return null;
  const path = str(option.UefiDevicePath);
  const name = str(option.DisplayName);
  const kind = networkKind(path, name);
  if (!kind) return null;
  const label = `${ref} "${name || path}"`;
  const inPath = /\bMAC\(([0-9a-f]{12})/i.exec(path);
  if (inPath) {
    const mac = canonicalMac(inPath[1]);
    const known = mac && mac !== bmcMac && (!nics.length || nics.some((n) => n.mac === mac));
    return { kind, label, mac: known ? mac : undefined };
  }
  return { kind, label, mac: byName(dellNicName(name) ?? dellNicName(ref)) };
}

/** `pxe4`, `http` (UEFI HTTP boot), `v6` (not ours: the provisioning network is IPv4), or null. */
export function networkKind(path: string, name: string): "pxe4" | "http" | "v6" | null {
  const http = /\bUri\(/i.test(path) || /\bHTTP/i.test(name);
  const v6 = /\bIPv6\(/i.test(path) || /\b(IPv6|IP6)\b/i.test(name);
  if (!http && !v6 && !/\b(IPv4|MAC)\(/i.test(path) && !/\bPXE\b/i.test(name)) return null;
  return v6 ? "v6" : http ? "http" : "pxe4";
}

/** Dell's NIC name (`NIC.Integrated.1-2-1`) from itself or from "Integrated NIC 1 Port 2
 * Partition 1", "NIC in Slot 3 Port 1 Partition 1"; null otherwise. */
export function dellNicName(text: string): string | null {
  const fqdd = /\bNIC\.(Integrated|Embedded|Slot|Mezzanine)\.(\w+)-(\d+)(?:-(\d+))?\b/i.exec(text);
  if (fqdd) return `NIC.${fqdd[1]}.${fqdd[2]}-${fqdd[3]}-${fqdd[4] ?? 1}`;
  const words = /\b(Integrated|Embedded) NIC (\d+) Port (\d+)(?: Partition (\d+))?/i.exec(text) ??
    /\bNIC in (Slot|Mezzanine) (\w+) Port (\d+)(?: Partition (\d+))?/i.exec(text);
  return words ? `NIC.${words[1]}.${words[2]}-${words[3]}-${words[4] ?? 1}` : null;
}

/** Last resort: exactly one host NIC whose network device function boots by PXE. */
export async function chooseByFunction(ctx: Ctx, nics: Candidate[]): Promise<Choice | null> {
  if (nics.length < 2 || !nics.some((n) => n.functions.length)) return null;
  const pxe: Candidate[] = [];
  for (const nic of nics) {
    const got = await Promise.all(nic.functions.slice(0, AT_ONCE).map((p) => get(ctx, p)));
    if (got.some((f) => f.kind === "ok" && str(f.body.BootMode).toUpperCase() === "PXE")) {
      pxe.push(nic);
    }
  }
  return pxe.length === 1
    ? {
      mac: pxe[0].mac,
      reason: `the only NIC whose network device function boots by PXE (${pxe[0].id})`,
    }
    : null;
}
