/** Reading a scanned label: which values are a MAC, which a password; wrong kinds are ignored. */
import { canonicalMac } from "../lib/domain/mac.ts";

const MAC_IN_TEXT =
  /(?:^|[^0-9a-z])((?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12})(?![0-9a-z])/i;

/**
 * The canonical MAC in a scanned value (bare, separated, or a delimited word inside text such as
 * `MAC:…`), or null. Hex digits glued to letters (a serial number) are not taken for a MAC.
 */
export function scannedMac(value: string): string | null {
  const direct = canonicalMac(value);
  if (direct) return direct;
  const m = MAC_IN_TEXT.exec(value.trim());
  return m ? canonicalMac(m[1]) : null;
}

/**
 * The password in a scanned value, or null when the value is not a password (a MAC, empty,
 * non-printable). A `PASS:`/`PASSWORD=` field or a `BMC:user/password` field is extracted.
 */
export function scannedPassword(value: string): string | null {
  const v = value.trim();
  if (!v || scannedMac(v) && !/pass|bmc:/i.test(v)) return null;
  const field = /(?:pass(?:word)?|pwd)\s*[:=]\s*(\S+)/i.exec(v) ?? /BMC:[^/\s]+\/(\S+)/i.exec(v);
  const password = field ? field[1] : v;
  return /^[\x20-\x7e]{1,128}$/.test(password) ? password : null;
}
