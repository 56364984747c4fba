/** Kea's JSON reservation format: parsing config files with comments, converting to and from our
 * `Reservation`, comparing reservations and option names ↔ codes. */
import { Conflict } from "./errors.ts";
import { canonicalMac } from "./mac.ts";
import { ipv4ToInt } from "./ipv4.ts";

/** One host reservation in our canonical form (MAC lower-case colon form). */
export interface Reservation {
  mac: string;
  ip: string;
  hostname?: string;
  subnetId?: number;
  nextServer?: string;
  serverHostname?: string;
  bootFileName?: string;
  clientClasses?: string[];
  optionData?: OptionData[];
  userContext?: Record<string, unknown>;
}

/** A host option as Kea's `option-data` entry; `name` or `code` identifies it. */
export interface OptionData {
  name?: string;
  code?: number;
  data: string;
  space?: string;
}

/** Standard DHCPv4 option names as Kea spells them, to their codes. */
export const DHCP4_OPTION_CODES: Readonly<Record<string, number>> = {
  "subnet-mask": 1,
  "time-offset": 2,
  "routers": 3,
  "time-servers": 4,
  "name-servers": 5,
  "domain-name-servers": 6,
  "log-servers": 7,
  "host-name": 12,
  "boot-size": 13,
  "domain-name": 15,
  "swap-server": 16,
  "root-path": 17,
  "ip-forwarding": 19,
  "default-ip-ttl": 23,
  "interface-mtu": 26,
  "broadcast-address": 28,
  "static-routes": 33,
  "nis-domain": 40,
  "nis-servers": 41,
  "ntp-servers": 42,
  "vendor-encapsulated-options": 43,
  "netbios-name-servers": 44,
  "dhcp-lease-time": 51,
  "dhcp-renewal-time": 58,
  "dhcp-rebinding-time": 59,
  "vendor-class-identifier": 60,
  "tftp-server-name": 66,
  "boot-file-name": 67,
  "user-class": 77,
  "client-system": 93,
  "client-ndi": 94,
  "uuid-guid": 97,
  "pcode": 100,
  "tcode": 101,
  "domain-search": 119,
  "classless-static-route": 121,
  "vivco-suboptions": 124,
  "vivso-suboptions": 125,
};

const OPTION_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(DHCP4_OPTION_CODES).map(([name, code]) => [code, name]),
);

/** The code of a dhcp4 option given by name or code; throws a TypeError for an unknown name. */
export function optionCode(option: OptionData): number {
  if (option.code !== undefined) return option.code;
  const space = option.space ?? "dhcp4";
  const code = space === "dhcp4" && option.name ? DHCP4_OPTION_CODES[option.name] : undefined;
  if (code === undefined) {
    throw new TypeError(
      `Unknown option "${option.name ?? "(no name)"}" in space ${space}: give its "code"`,
    );
  }
  return code;
}

/** The Kea name of a standard dhcp4 option code, if it has one. */
export function optionName(code: number, space = "dhcp4"): string | undefined {
  return space === "dhcp4" ? OPTION_NAMES[code] : undefined;
}

/** A MAC as the raw 6 bytes Kea stores in `hosts.dhcp_identifier`. */
export function macToBytes(mac: string): Uint8Array {
  const c = CANONICAL_MAC.test(mac) ? mac : canonicalMac(mac);
  const bytes = c ? new Uint8Array(6) : undefined;
  for (let i = 0; bytes && i < 6; i++) bytes[i] = parseInt(c!.slice(i * 3, i * 3 + 2), 16);
  // The fast path above skips canonicalMac's unicast and non-zero checks: made here.
  if (!bytes || bytes[0] & 1 || bytes.every((b) => b === 0)) {
    throw new TypeError(`Not a usable MAC address: "${mac}"`);
  }
  return bytes;
}

/** Already in canonical form: most MACs a migration handles (100,000 at a time). */
const CANONICAL_MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Raw identifier bytes back to the canonical MAC form. */
export function bytesToMac(bytes: Uint8Array): string {
  let out = HEX_BYTE[bytes[0]];
  for (let i = 1; i < bytes.length; i++) out += ":" + HEX_BYTE[bytes[i]];
  return out;
}

// ---- Kea JSON ↔ Reservation ----

/** Our reservation as a Kea `reservation` object (for `reservation-add` or a config file). */
export function reservationToKea(r: Reservation, subnetId?: number): Record<string, unknown> {
  const out: Record<string, unknown> = { "hw-address": r.mac, "ip-address": r.ip };
  if (subnetId !== undefined) out["subnet-id"] = subnetId;
  if (r.hostname) out.hostname = r.hostname;
  if (r.nextServer) out["next-server"] = r.nextServer;
  if (r.serverHostname) out["server-hostname"] = r.serverHostname;
  if (r.bootFileName) out["boot-file-name"] = r.bootFileName;
  if (r.clientClasses?.length) out["client-classes"] = r.clientClasses;
  if (r.optionData?.length) {
    out["option-data"] = r.optionData.map((o) => {
      const e: Record<string, unknown> = { data: o.data };
      if (o.name) e.name = o.name;
      if (o.code !== undefined) e.code = o.code;
      if (o.space && o.space !== "dhcp4") e.space = o.space;
      return e;
    });
  }
  if (r.userContext && Object.keys(r.userContext).length) out["user-context"] = r.userContext;
  return out;
}

/** A Kea host/reservation object (config file or command answer) in our form. */
export function reservationFromKea(
  host: Record<string, unknown>,
  subnetId?: number,
): Reservation {
  const hw = host["hw-address"];
  if (typeof hw !== "string") {
    throw new TypeError(
      `Reservation without "hw-address" (${
        JSON.stringify(host).slice(0, 120)
      }): only MAC reservations are supported`,
    );
  }
  const mac = canonicalMac(hw);
  if (!mac) throw new TypeError(`Reservation with an unusable "hw-address": "${hw}"`);
  const ip = host["ip-address"];
  if (typeof ip !== "string") throw new TypeError(`Reservation for ${mac} has no "ip-address"`);
  ipv4ToInt(ip);
  const str = (k: string) => {
    const v = host[k];
    return typeof v === "string" && v !== "" ? v : undefined;
  };
  const sid = typeof host["subnet-id"] === "number" ? host["subnet-id"] as number : subnetId;
  const next = str("next-server");
  const classes = Array.isArray(host["client-classes"])
    ? (host["client-classes"] as unknown[]).map(String)
    : undefined;
  const options = Array.isArray(host["option-data"])
    ? (host["option-data"] as Record<string, unknown>[]).map((o) => {
      const e: OptionData = { data: String(o.data ?? "") };
      if (typeof o.name === "string") e.name = o.name;
      if (typeof o.code === "number") e.code = o.code;
      if (typeof o.space === "string") e.space = o.space;
      return e;
    })
    : undefined;
  const ctx = host["user-context"];
  const r: Reservation = { mac, ip };
  if (sid !== undefined) r.subnetId = sid;
  if (str("hostname")) r.hostname = str("hostname");
  if (next && next !== "0.0.0.0") r.nextServer = next;
  if (str("server-hostname")) r.serverHostname = str("server-hostname");
  if (str("boot-file-name")) r.bootFileName = str("boot-file-name");
  if (classes?.length) r.clientClasses = classes;
  if (options?.length) r.optionData = options;
  if (ctx && typeof ctx === "object" && !Array.isArray(ctx) && Object.keys(ctx).length) {
    r.userContext = ctx as Record<string, unknown>;
  }
  return r;
}

/** Option data normalised for comparison: code, space, data with whitespace around commas removed. */
function canonicalOptions(options: OptionData[] | undefined): string[] {
  return (options ?? []).map((o) => {
    const space = o.space ?? "dhcp4";
    let id: string;
    try {
      id = String(optionCode(o));
    } catch {
      id = `name:${o.name}`;
    }
    const data = o.data.split(",").map((s) => s.trim()).join(",");
    return `${space}/${id}=${data}`;
  }).sort();
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${
      Object.keys(value).sort().map((k) =>
        `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(value);
}

/** Whether two reservations carry the same data (subnet id aside). */
export function sameReservation(a: Reservation, b: Reservation): boolean {
  return reservationKey(a) === reservationKey(b);
}

/** A comparable fingerprint of a reservation's data (subnet id aside). */
export function reservationKey(r: Reservation): string {
  const next = r.nextServer && r.nextServer !== "0.0.0.0" ? r.nextServer : "";
  return stableJson([
    CANONICAL_MAC.test(r.mac) ? r.mac : canonicalMac(r.mac) ?? r.mac,
    r.ip,
    r.hostname ?? "",
    next,
    r.serverHostname ?? "",
    r.bootFileName ?? "",
    r.clientClasses ?? [],
    canonicalOptions(r.optionData),
    r.userContext && Object.keys(r.userContext).length ? r.userContext : null,
  ]);
}

// ---- Parsing files ----

/** Removes `//`, `#` and `/* … *\/` comments outside strings, as Kea's parser accepts them. */
export function stripJsonComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      out += text.slice(start, ++i);
    } else if (c === "#" || (c === "/" && text[i + 1] === "/")) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const chunk = text.slice(i, end < 0 ? text.length : end + 2);
      out += chunk.replace(/[^\n]/g, " "); // keep line numbers for JSON errors
      i += chunk.length;
    } else {
      out += c;
      i++;
    }
  }
  return dropTrailingCommas(out);
}

/** Kea (2.3+) accepts a trailing comma before `]` or `}`; JSON does not. Skips strings. */
function dropTrailingCommas(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      out += text.slice(start, i + 1);
    } else if (c === ",") {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j])) j++;
      if (text[j] !== "]" && text[j] !== "}") out += c;
    } else out += c;
  }
  return out;
}

/** Parses JSON with Kea-style comments. */
export function parseKeaJson(text: string): unknown {
  return JSON.parse(stripJsonComments(text));
}

/** Reservations of one subnet (or of no known subnet, for plain lists). */
export interface ReservationGroup {
  subnetId?: number;
  subnet?: string;
  reservations: Reservation[];
}

/**
 * Reads reservations from a Kea JSON file: a list, `{"reservations": [...]}`, or a Kea config
 * (`{"Dhcp4": …}` or the Dhcp4 body) with `subnet4[].reservations` (also inside shared networks).
 */
export function parseKeaReservations(text: string): ReservationGroup[] {
  const doc = parseKeaJson(text);
  const list = (items: unknown, subnetId?: number) => {
    if (!Array.isArray(items)) throw new TypeError(`"reservations" must be a list`);
    return items.map((h, i) => {
      if (!h || typeof h !== "object") throw new TypeError(`Reservation ${i} is not an object`);
      try {
        return reservationFromKea(h as Record<string, unknown>, subnetId);
      } catch (e) {
        throw new TypeError(`Reservation ${i}: ${(e as Error).message}`);
      }
    });
  };
  if (Array.isArray(doc)) return [{ reservations: list(doc) }];
  if (!doc || typeof doc !== "object") throw new TypeError("Expected a JSON list or object");
  const obj = doc as Record<string, unknown>;
  const dhcp4 = (obj.Dhcp4 ?? obj) as Record<string, unknown>;
  const groups: ReservationGroup[] = [];
  if (Array.isArray(dhcp4.reservations)) {
    // Top-level reservations: global in a config (subnet 0), unknown subnet in a plain file.
    const global = obj.Dhcp4 !== undefined || dhcp4.subnet4 !== undefined;
    groups.push(
      global
        ? { subnetId: 0, reservations: list(dhcp4.reservations, 0) }
        : { reservations: list(dhcp4.reservations) },
    );
  }
  const subnets: Record<string, unknown>[] = [];
  if (Array.isArray(dhcp4.subnet4)) subnets.push(...dhcp4.subnet4);
  if (Array.isArray(dhcp4["shared-networks"])) {
    for (const net of dhcp4["shared-networks"] as Record<string, unknown>[]) {
      if (Array.isArray(net.subnet4)) subnets.push(...net.subnet4);
    }
  }
  for (const s of subnets) {
    const id = typeof s.id === "number" ? s.id : undefined;
    const reservations = Array.isArray(s.reservations) ? list(s.reservations, id) : [];
    groups.push({
      subnetId: id,
      subnet: typeof s.subnet === "string" ? s.subnet : undefined,
      reservations,
    });
  }
  if (!groups.length) {
    throw new TypeError(`No reservations found: expected a list, "reservations" or "subnet4"`);
  }
  return groups;
}

// ---- Errors ----

/** Another MAC already holds the IP in that subnet: a 409 naming the holder. */
export class ReservationConflict extends Conflict {
  override name = "ReservationConflict";
  constructor(
    readonly ip: string,
    readonly subnetId: number,
    readonly mac: string,
    readonly otherMac: string,
    readonly otherHostname?: string,
  ) {
    super(
      `Cannot reserve ${ip} in Kea subnet ${subnetId} for ${mac}: already reserved for ${otherMac}${
        otherHostname ? ` (${otherHostname})` : ""
      }`,
    );
  }
}
