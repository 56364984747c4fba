/**
 * Who sent a request: the socket peer, or the client a trusted proxy names in X-Forwarded-For.
 * Also network lists (IPv4 and IPv6 CIDRs) for the trusted proxies and the metrics scrapers.
 */
import { parseIpv4 } from "./ipv4.ts";

/** A parsed CIDR: address bits as a bigint, and the prefix length. */
export interface Network {
  v6: boolean;
  bits: bigint;
  prefix: number;
}

/** IPv4 from the one IPv4 parser; IPv6 (below) is needed only here. */
function parseV4(ip: string): bigint | null {
  const n = ip.trim() === ip ? parseIpv4(ip) : null;
  return n === null ? null : BigInt(n);
}

function parseV6(ip: string): bigint | null {
  const halves = ip.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  let head = groups(halves[0]);
  let tail = halves.length === 2 ? groups(halves[1]) : [];
  // An IPv4 tail (::ffff:10.0.0.1) is two groups.
  const last = (halves.length === 2 ? tail : head).at(-1);
  if (last?.includes(".")) {
    const v4 = parseV4(last);
    if (v4 === null) return null;
    const pair = [(v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16)];
    if (halves.length === 2) tail = [...tail.slice(0, -1), ...pair];
    else head = [...head.slice(0, -1), ...pair];
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
  return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** An address as a one-host network; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as IPv4. */
export function parseAddress(ip: string): Network | null {
  const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = parseV4(bare);
  if (v4 !== null) return { v6: false, bits: v4, prefix: 32 };
  const v6 = parseV6(bare);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { v6: false, bits: v6 & 0xffffffffn, prefix: 32 };
  return { v6: true, bits: v6, prefix: 128 };
}

/** `10.0.0.0/8`, `fd00::/8` or a bare address; null when malformed. */
export function parseNetwork(cidr: string): Network | null {
  const [ip, len, extra] = cidr.trim().split("/");
  if (extra !== undefined) return null;
  const addr = parseAddress(ip);
  if (!addr) return null;
  if (len === undefined) return addr;
  const max = addr.v6 ? 128 : 32;
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return null;
  return { ...addr, prefix: Number(len) };
}

/** Whether `ip` lies in any of the networks. */
export function inNetworks(ip: string | undefined, networks: readonly Network[]): boolean {
  const addr = ip === undefined ? null : parseAddress(ip);
  if (!addr) return false;
  const width = (n: Network) => (n.v6 ? 128n : 32n);
  return networks.some((n) => {
    if (n.v6 !== addr.v6) return false;
    const shift = width(n) - BigInt(n.prefix);
    return (n.bits >> shift) === (addr.bits >> shift);
  });
}

/**
 * The client's address. X-Forwarded-For is read only when the socket peer is a trusted proxy, and
 * then from the right: the first hop that is not a trusted proxy is the client (hops further left
 * were written by the client itself and prove nothing).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trusted: readonly Network[],
): string {
  if (!peer) return "local";
  if (!forwardedFor || !inNetworks(peer, trusted)) return peer;
  const hops = forwardedFor.split(",").map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!parseAddress(hops[i])) return peer; // junk from an untrusted writer: keep what we know
    if (!inNetworks(hops[i], trusted)) return hops[i];
  }
  return hops[0] ?? peer;
}
