/** Merges a YAML device list with Kea BMC reservations into import items (SPEC §8 merge-import).
 * Pure: used by `scripts/merge_import.ts` and by the PWA's import page in the browser. */
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import { canonicalMac, MAC_MESSAGES, macProblem } from "./mac.ts";
import { fieldErrors, type ImportItem, importItemSchema } from "./schemas.ts";
import { parseKeaJson } from "./kea_json.ts";
import { matchHostname, type MatchOptions } from "./hostname_match.ts";

export {
  DEFAULT_PREFIXES,
  DEFAULT_SUFFIXES,
  hostnameCandidates,
  matchHostname,
  type MatchOptions,
} from "./hostname_match.ts";

/** The part of a Kea reservation the merge needs (see `lib/domain/kea_json.ts`). */
export interface BmcReservation {
  mac?: string;
  ip?: string;
  hostname?: string;
}

/** One entry of the YAML device list, as written by the operator (password never logged). */
export interface DeviceEntry {
  /** Zero-based position in the YAML list, for messages. */
  index: number;
  device_name: string;
  bmc_password?: string;
  /** Import-item fields that override or complete what the reservation gives. */
  overrides: Record<string, unknown>;
}

/** Fields a YAML entry may carry besides `device_name` and `bmc_password`: every import field. */
export const OVERRIDE_FIELDS: readonly string[] = Object.keys(importItemSchema.shape).filter((k) =>
  k !== "device_name" && k !== "bmc_password"
);

export type ProblemKind =
  | "invalid_yaml"
  | "invalid_kea"
  | "invalid_entry"
  | "missing_password"
  | "duplicate_device"
  | "duplicate_reservation"
  | "duplicate_mac"
  | "duplicate_ip"
  | "unmatched_device"
  | "ambiguous_device"
  | "bmc_mac_override"
  | "invalid_mac"
  | "invalid_item";

/** Something the operator should know; `error` problems make the merge fail. */
export interface MergeProblem {
  kind: ProblemKind;
  severity: "error" | "warning";
  device_name?: string;
  hostname?: string;
  message: string;
}

export interface MergeResult {
  /** Valid import items, in YAML order; devices with errors are left out. */
  items: ImportItem[];
  /** Errors and warnings, unmatched reservations excluded (see `unmatchedReservations`). */
  problems: MergeProblem[];
  /** Reservations no device claimed (many in a whole Kea config, hence kept apart). */
  unmatchedReservations: BmcReservation[];
}

/** True when the merge has at least one error. */
export function hasErrors(result: MergeResult): boolean {
  return result.problems.some((p) => p.severity === "error");
}

/** Scalar text exactly as written, so `bmc_password: 0123` stays `"0123"` and not the number 123. */
function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  if (node.value === null || node.value === undefined) return undefined;
  if (typeof node.value === "string") return node.value;
  return node.source ?? String(node.value);
}

/** Parses the YAML device list; problems go to `problems`, valid-looking entries are returned. */
export function parseDeviceList(
  text: string,
  problems: MergeProblem[] = [],
): DeviceEntry[] {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    problems.push({
      kind: "invalid_yaml",
      severity: "error",
      // The parser's message quotes only a position and a short reason, never the line itself.
      message: `The device list is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`,
    });
    return [];
  }
  if (doc.contents === null) return [];
  if (!isSeq(doc.contents)) {
    problems.push({
      kind: "invalid_yaml",
      severity: "error",
      message: "The device list must be a YAML list of devices (`- device_name: …`)",
    });
    return [];
  }
  const entries: DeviceEntry[] = [];
  doc.contents.items.forEach((node, index) => {
    const where = `Entry ${index + 1}`;
    if (!isMap(node)) {
      problems.push({
        kind: "invalid_entry",
        severity: "error",
        message: `${where} is not a mapping with device_name and bmc_password`,
      });
      return;
    }
    const name = scalarText(node.get("device_name", true))?.trim().toLowerCase();
    if (!name) {
      problems.push({
        kind: "invalid_entry",
        severity: "error",
        message: `${where} has no device_name`,
      });
      return;
    }
    const overrides: Record<string, unknown> = {};
    const unknown: string[] = [];
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (key === "device_name" || key === "bmc_password") continue;
      if (OVERRIDE_FIELDS.includes(key)) {
        // A MAC of digits only (`001122334455`) must not lose its leading zeros as a number.
        const raw = isScalar(pair.value) ? pair.value.value : pair.value;
        const value = key.endsWith("_mac") && typeof raw === "number"
          ? scalarText(pair.value)
          : raw;
        if (value !== null && value !== undefined && value !== "") overrides[key] = value;
      } else {
        unknown.push(key);
      }
    }
    if (unknown.length) {
      problems.push({
        kind: "invalid_entry",
        severity: "error",
        device_name: name,
        message: `${name}: unknown field ${unknown.map((k) => `'${k}'`).join(", ")} (allowed: ${
          ["device_name", "bmc_password", ...OVERRIDE_FIELDS].join(", ")
        })`,
      });
      return;
    }
    entries.push({
      index,
      device_name: name,
      bmc_password: scalarText(node.get("bmc_password", true)),
      overrides,
    });
  });
  return entries;
}

/** Merges parsed devices with reservations: match, check, build and validate the import items. */
export function mergeDevices(
  devices: readonly DeviceEntry[],
  reservations: readonly BmcReservation[],
  options: MatchOptions = {},
): MergeResult {
  const problems: MergeProblem[] = [];
  const error = (p: Omit<MergeProblem, "severity">) => problems.push({ ...p, severity: "error" });
  const warn = (p: Omit<MergeProblem, "severity">) => problems.push({ ...p, severity: "warning" });

  // A name listed twice is ambiguous (which password is right?): both entries are left out.
  const byName = new Map<string, DeviceEntry[]>();
  for (const d of devices) byName.set(d.device_name, [...byName.get(d.device_name) ?? [], d]);
  for (const [name, list] of byName) {
    if (list.length > 1) {
      error({
        kind: "duplicate_device",
        device_name: name,
        message: `${name} is listed ${list.length} times in the device list (entries ${
          list.map((d) => d.index + 1).join(", ")
        })`,
      });
    }
  }

  const { claimed, unmatchedReservations } = claimReservations(reservations, byName, options, warn);

  const candidates: { device: DeviceEntry; item: Record<string, unknown> }[] = [];
  for (const device of devices) {
    const name = device.device_name;
    if ((byName.get(name)?.length ?? 0) > 1) continue;
    let bad = false;
    if (!device.bmc_password) {
      error({
        kind: "missing_password",
        device_name: name,
        message: `${name} has no bmc_password`,
      });
      bad = true;
    }
    const matches = claimed.get(name) ?? [];
    const listMac = device.overrides.bmc_mac;
    if (matches.length === 0 && listMac === undefined) {
      error({
        kind: "unmatched_device",
        device_name: name,
        message:
          `${name} has no BMC reservation (no reservation hostname is ${name}, nor ends with -${name})`,
      });
      continue;
    }
    if (matches.length > 1) {
      // A short name found under two Kea names (dcoa-ra07u01, dcob-ra07u01) is never guessed.
      const short = matches.some((m) => m.keaName !== name);
      error({
        kind: short ? "ambiguous_device" : "duplicate_reservation",
        device_name: name,
        message: `${name} matches ${matches.length} different reservations: ${
          matches.map((m) => describe(m.reservation)).join("; ")
        }${
          short
            ? " (write the full device name in the list)"
            : options.domains?.length
            ? ""
            : " (--domain can tell BMC hostnames from others)"
        }`,
      });
      continue;
    }
    const match = matches[0];
    const r = match?.reservation;
    const keaMac = r?.mac ? canonicalMac(r.mac) : null;
    if (r && !keaMac && listMac === undefined) {
      error({
        kind: "invalid_mac",
        device_name: name,
        hostname: r.hostname,
        message: `${name}: reservation ${r.hostname} has ${
          r.mac ? `the MAC '${r.mac}': ${MAC_MESSAGES[macProblem(r.mac)!]}` : "no hw-address"
        }`,
      });
      continue;
    }
    if (bad) continue;
    const deviceName = match && options.names !== "yaml" ? match.keaName : name;
    if (!r) {
      warn({
        kind: "unmatched_device",
        device_name: name,
        message: `${name} has no BMC reservation: its bmc_mac from the device list is used`,
      });
    } else if (keaMac && listMac !== undefined && canonicalMac(String(listMac)) !== keaMac) {
      warn({
        kind: "bmc_mac_override",
        device_name: deviceName,
        hostname: r.hostname,
        message:
          `${deviceName}: the bmc_mac from the device list replaces ${keaMac} of ${r.hostname}${
            r.ip ? ` (remove that reservation from Kea: it holds ${r.ip} for the old MAC)` : ""
          }`,
      });
    }
    const item: Record<string, unknown> = { device_name: deviceName };
    if (keaMac) item.bmc_mac = keaMac;
    item.bmc_password = device.bmc_password;
    if (r?.ip) item.bmc_ip = r.ip;
    Object.assign(item, device.overrides);
    candidates.push({ device, item });
  }

  const rejected = rejectShared(candidates, error);

  const items: ImportItem[] = [];
  for (const { item } of candidates) {
    const name = item.device_name as string;
    if (rejected.has(name)) continue;
    const parsed = importItemSchema.safeParse(item);
    if (!parsed.success) {
      const fields = fieldErrors(parsed.error);
      error({
        kind: "invalid_item",
        device_name: name,
        message: `${name}: ${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join("; ")}`,
      });
      continue;
    }
    items.push(parsed.data);
  }
  return { items, problems, unmatchedReservations };
}

/** Each reservation's device by hostname; a host listed twice (same MAC and IP) counts once. */
function claimReservations(
  reservations: readonly BmcReservation[],
  byName: Map<string, DeviceEntry[]>,
  options: MatchOptions,
  warn: Report,
): { claimed: Map<string, Claim[]>; unmatchedReservations: BmcReservation[] } {
  const claimed = new Map<string, Claim[]>();
  const unmatchedReservations: BmcReservation[] = [];
  for (const r of reservations) {
    const match = r.hostname ? matchHostname(r.hostname, byName, options) : null;
    if (!match) {
      unmatchedReservations.push(r);
      continue;
    }
    const name = match.device;
    const list = claimed.get(name) ?? [];
    // The same host listed twice (e.g. globally and in its subnet) is one reservation.
    if (list.some((o) => sameReservation(o.reservation, r))) {
      warn({
        kind: "duplicate_reservation",
        device_name: name,
        hostname: r.hostname,
        message: `${name}: reservation ${describe(r)} is listed more than once (same MAC and IP)`,
      });
    } else list.push({ reservation: r, keaName: match.kea });
    claimed.set(name, list);
  }
  return { claimed, unmatchedReservations };
}

/** Devices that would share a BMC MAC or IP: each is reported and left out. */
function rejectShared(
  candidates: { item: Record<string, unknown> }[],
  error: Report,
): Set<string> {
  // Two devices on one BMC MAC or IP would fight over one DHCP lease.
  const rejected = new Set<string>();
  for (const [field, kind] of [["bmc_mac", "duplicate_mac"], ["bmc_ip", "duplicate_ip"]] as const) {
    const owners = new Map<string, string[]>();
    for (const { item } of candidates) {
      const value = item[field];
      if (typeof value !== "string") continue;
      owners.set(value, [...owners.get(value) ?? [], item.device_name as string]);
    }
    for (const [value, names] of owners) {
      if (names.length < 2) continue;
      names.forEach((n) => rejected.add(n));
      error({
        kind,
        device_name: names[0],
        message: `${names.join(" and ")} would share the BMC ${
          field === "bmc_mac" ? "MAC" : "IP"
        } ${value}`,
      });
    }
  }
  return rejected;
}

/** Reports one problem of the merge. */
type Report = (p: Omit<MergeProblem, "severity">) => void;

/** A reservation a device claimed, with the device name Kea's hostname stands for. */
interface Claim {
  reservation: BmcReservation;
  keaName: string;
}

function sameReservation(a: BmcReservation, b: BmcReservation): boolean {
  return (a.mac ? canonicalMac(a.mac) ?? a.mac : "") ===
      (b.mac ? canonicalMac(b.mac) ?? b.mac : "") &&
    a.ip === b.ip;
}

function describe(r: BmcReservation): string {
  return `${r.hostname ?? "(no hostname)"} ${r.mac ?? "(no MAC)"} → ${r.ip ?? "(no IP)"}`;
}

/**
 * Reservations of a parsed Kea file: a list, `{"reservations": […]}`, or a Kea config (`Dhcp4` or
 * its body) with global `reservations`, `subnet4[].reservations` and shared networks. Lenient on
 * purpose: a client-id reservation or a bad MAC elsewhere in a whole Kea config must not stop the
 * merge; only the reservations a device matches are checked.
 */
export function bmcReservations(doc: unknown): BmcReservation[] {
  const read = (list: unknown): BmcReservation[] => {
    if (!Array.isArray(list)) throw new TypeError(`"reservations" must be a list`);
    return list.filter((h) => h && typeof h === "object").map((h: Record<string, unknown>) => {
      const r: BmcReservation = {};
      if (typeof h["hw-address"] === "string") r.mac = h["hw-address"];
      if (typeof h["ip-address"] === "string") r.ip = h["ip-address"];
      if (typeof h.hostname === "string" && h.hostname) r.hostname = h.hostname;
      return r;
    });
  };
  if (Array.isArray(doc)) return read(doc);
  if (!doc || typeof doc !== "object") throw new TypeError("Expected a JSON list or object");
  const obj = doc as Record<string, unknown>;
  const dhcp4 = (obj.Dhcp4 ?? obj) as Record<string, unknown>;
  const subnets: Record<string, unknown>[] = [];
  if (Array.isArray(dhcp4.subnet4)) subnets.push(...dhcp4.subnet4);
  if (Array.isArray(dhcp4["shared-networks"])) {
    for (const net of dhcp4["shared-networks"] as Record<string, unknown>[]) {
      if (Array.isArray(net?.subnet4)) subnets.push(...net.subnet4);
    }
  }
  if (dhcp4.reservations === undefined && !subnets.length) {
    throw new TypeError(`No reservations found: expected a list, "reservations" or "subnet4"`);
  }
  const out = dhcp4.reservations === undefined ? [] : read(dhcp4.reservations);
  for (const s of subnets) if (s?.reservations !== undefined) out.push(...read(s.reservations));
  return out;
}

/** Parses both files and merges them. Kea text: a list, `{"reservations": […]}` or a Kea config. */
export function mergeImport(
  devicesYaml: string,
  keaJson: string,
  options: MatchOptions = {},
): MergeResult {
  const problems: MergeProblem[] = [];
  const devices = parseDeviceList(devicesYaml, problems);
  let reservations: BmcReservation[] = [];
  try {
    reservations = bmcReservations(parseKeaJson(keaJson));
  } catch (e) {
    problems.push({
      kind: "invalid_kea",
      severity: "error",
      message: `The reservation file is not Kea JSON: ${
        e instanceof Error ? e.message : String(e)
      }`,
    });
    // Without reservations every device would look unmatched: report only the cause.
    return { items: [], problems, unmatchedReservations: [] };
  }
  const result = mergeDevices(devices, reservations, options);
  return { ...result, problems: [...problems, ...result.problems] };
}
