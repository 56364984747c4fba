/** IPv4 addresses and CIDR prefixes: the one parser and containment test of the code base. */

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Dotted quad to an unsigned 32-bit integer, or null when it is not one. */
export function parseIpv4(ip: string): number | null {
  const m = IPV4.exec(ip.trim());
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** Dotted quad to an unsigned 32-bit integer (the form Kea stores in PostgreSQL); throws on junk. */
export function ipv4ToInt(ip: string): number {
  const n = parseIpv4(ip);
  if (n === null) throw new TypeError(`Not an IPv4 address: "${ip}"`);
  return n;
}

/** Unsigned 32-bit integer to a dotted quad. */
export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Whether `ip` lies inside `cidr` (`10.16.28.0/24`); false when either is not IPv4. */
export function ipInPrefix(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const bits = Number(bitsText ?? 32);
  const network = parseIpv4(base);
  const address = parseIpv4(ip);
  if (network === null || address === null || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    return false;
  }
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((network & mask) >>> 0) === ((address & mask) >>> 0);
}

/** Why `ip` cannot be a host in `cidr` (outside it, or its network or broadcast address). */
export function ipInSubnetProblem(ip: string, cidr: string): string | null {
  if (!ipInPrefix(ip, cidr)) return `${ip} is not inside ${cidr}`;
  const len = Number(cidr.split("/")[1]);
  if (len >= 31) return null; // point-to-point and host routes have no network/broadcast address
  const size = 2 ** (32 - len);
  const offset = ipv4ToInt(ip) % size;
  if (offset === 0) return `${ip} is the network address of ${cidr}, not a host`;
  if (offset === size - 1) return `${ip} is the broadcast address of ${cidr}, not a host`;
  return null;
}

/** Why an address can never be a BMC's, whatever the BMC networks; null when it could be. */
export function unusableIpReason(ip: string): string | null {
  const n = parseIpv4(ip);
  if (n === null) return null;
  const inside = (cidr: string) => ipInPrefix(ip, cidr);
  if (n === 0xffffffff) return "the broadcast address";
  if (inside("0.0.0.0/8")) return "an unspecified (0.x.x.x) address";
  if (inside("127.0.0.0/8")) return "a loopback address";
  if (inside("169.254.0.0/16")) return "a link-local address";
  if (inside("224.0.0.0/4")) return "a multicast address";
  if (inside("240.0.0.0/4")) return "a reserved address";
  return null;
}
