/** MAC address parsing shared by server and browser: every label format to one canonical form. */

const SEPARATED =
  /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;
const DOTTED = /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i;
const BARE = /^[0-9a-f]{12}$/i;

/** Why a string is not an acceptable MAC, or null when it parses. */
export type MacProblem = "format" | "multicast" | "zero";

/** Returns the 12 hex digits of a MAC in any accepted format, or null. */
function hexDigits(input: string): string | null {
  const s = input.trim();
  if (BARE.test(s)) return s;
  const sep = SEPARATED.exec(s);
  if (sep) return [sep[1], sep[3], sep[4], sep[5], sep[6], sep[7]].join("");
  const dot = DOTTED.exec(s);
  if (dot) return dot[1] + dot[2] + dot[3];
  return null;
}

/** Checks a MAC: format, then unicast and non-zero. */
export function macProblem(input: string): MacProblem | null {
  const hex = hexDigits(input);
  if (!hex) return "format";
  if (/^0{12}$/.test(hex)) return "zero";
  if (parseInt(hex.slice(0, 2), 16) & 1) return "multicast";
  return null;
}

/** Canonical lower-case colon form (`3c:ec:ef:a1:9c:e8`), or null when not a usable unicast MAC. */
export function canonicalMac(input: string): string | null {
  if (macProblem(input)) return null;
  const hex = hexDigits(input)!.toLowerCase();
  return hex.match(/../g)!.join(":");
}

export const MAC_MESSAGES: Record<MacProblem, string> = {
  format: "Not a MAC address: use 12 hex digits, e.g. 3c:ec:ef:a1:9c:e8",
  multicast: "A multicast MAC cannot be a BMC address",
  zero: "The all-zero MAC is not a real address",
};

/** A few common server OUIs, for the scanner's vendor hint. */
const OUI_VENDORS: Record<string, string> = {
  "3c:ec:ef": "Supermicro",
  "ac:1f:6b": "Supermicro",
  "00:25:90": "Supermicro",
  "0c:c4:7a": "Supermicro",
  "d0:94:66": "Dell",
  "b0:83:fe": "Dell",
  "f4:02:70": "Dell",
  "14:18:77": "Dell",
  "94:40:c9": "HPE",
  "b4:7a:f1": "HPE",
  "1c:98:ec": "HPE",
  "08:94:ef": "Lenovo",
  "7c:d3:0a": "Lenovo",
  "e8:eb:d3": "Mellanox",
};

/** Vendor guessed from the OUI, or null when unknown. */
export function macVendor(mac: string): string | null {
  const c = canonicalMac(mac);
  return c ? OUI_VENDORS[c.slice(0, 8)] ?? null : null;
}
