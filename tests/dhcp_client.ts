/** A tiny DHCPv4 relay-style client for tests: sends a relayed DISCOVER to a real kea-dhcp4 on
 * loopback and parses the OFFER (yiaddr, siaddr, file, options).
 *
 * Kea 2.2 answers a relayed packet to giaddr port 67, so the client binds giaddr:67 (root only).
 * Calls are serialised inside one process by a mutex; across processes (`deno test --parallel`)
 * a busy port is waited for, and test files should use distinct giaddrs (the harness's
 * `relayPrefix`) so they rarely wait. */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";

export interface DiscoverOptions {
  /** Kea's address (default 127.0.0.1). */
  server?: string;
  port: number;
  mac: string;
  /** Relay address (giaddr) the reply goes to; default 127.0.0.1. Any 127.0.0.0/8 address works. */
  giaddr?: string;
  timeoutMs?: number;
  options?: {
    /** Option 60 vendor class identifier (e.g. `PXEClient:Arch:00007`). */
    vendorClass?: string;
    /** Option 93 client system architecture (0 BIOS, 7 UEFI x64, 16 UEFI HTTP). */
    arch?: number;
    /** Option 77 user class (e.g. `iPXE`). */
    userClass?: string;
  };
}

/** What the server offered. */
export interface Offer {
  messageType: number;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** BOOTP `sname` and `file` fields (NUL-trimmed). */
  sname: string;
  file: string;
  /** Raw options by code. */
  options: Record<number, Uint8Array>;
  subnetMask?: string;
  routers?: string[];
  dnsServers?: string[];
  hostname?: string;
  domainName?: string;
  ntpServers?: string[];
  serverId?: string;
  leaseTime?: number;
  vendorClass?: string;
  tftpServerName?: string;
  bootFileName?: string;
  domainSearch?: string[];
}

const MAGIC = [99, 130, 83, 99];

let queue: Promise<unknown> = Promise.resolve();

/** Serialises port-67 use within this process. */
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const next = queue.then(fn, fn);
  queue = next.catch(() => {});
  return next;
}

function ipBytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

function ipAt(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function ipList(b: Uint8Array | undefined): string[] | undefined {
  if (!b) return undefined;
  const out: string[] = [];
  for (let i = 0; i + 3 < b.length; i += 4) out.push(ipAt(b, i));
  return out;
}

function text(b: Uint8Array | undefined): string | undefined {
  return b ? new TextDecoder().decode(b).replace(/\0+$/, "") : undefined;
}

/** RFC 1035 names (option 119), with compression pointers. */
function domainList(b: Uint8Array | undefined): string[] | undefined {
  if (!b) return undefined;
  const names: string[] = [];
  const readName = (start: number): [string, number] => {
    const labels: string[] = [];
    let i = start;
    let end = -1;
    for (let guard = 0; i < b.length && guard < 128; guard++) {
      const len = b[i];
      if (len === 0) {
        i++;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (end < 0) end = i + 2;
        i = ((len & 0x3f) << 8) | b[i + 1];
        continue;
      }
      labels.push(new TextDecoder().decode(b.slice(i + 1, i + 1 + len)));
      i += 1 + len;
    }
    return [labels.join("."), end >= 0 ? end : i];
  };
  let at = 0;
  while (at < b.length) {
    const [name, next] = readName(at);
    names.push(name);
    at = next;
  }
  return names;
}

/** Builds a relayed BOOTREQUEST DISCOVER. */
export function buildDiscover(
  mac: string,
  xid: number,
  giaddr: string,
  options: DiscoverOptions["options"] = {},
): Uint8Array {
  const p = new Uint8Array(236);
  p[0] = 1; // BOOTREQUEST
  p[1] = 1; // Ethernet
  p[2] = 6;
  p[3] = 1; // hops: we act as the relay
  new DataView(p.buffer).setUint32(4, xid);
  p.set(ipBytes(giaddr), 24);
  p.set(mac.split(/[:-]/).map((h) => parseInt(h, 16)), 28);
  const opts: number[] = [...MAGIC, 53, 1, 1];
  opts.push(55, 9, 1, 3, 6, 12, 15, 42, 66, 67, 119);
  const enc = (s: string) => [...new TextEncoder().encode(s)];
  if (options.vendorClass) {
    opts.push(60, enc(options.vendorClass).length, ...enc(options.vendorClass));
  }
  if (options.arch !== undefined) opts.push(93, 2, (options.arch >> 8) & 255, options.arch & 255);
  if (options.userClass) opts.push(77, enc(options.userClass).length, ...enc(options.userClass));
  opts.push(255);
  const out = new Uint8Array(p.length + opts.length);
  out.set(p);
  out.set(opts, p.length);
  return out;
}

/** Parses a BOOTREPLY; null when it is not a DHCP packet. */
export function parseReply(b: Uint8Array): Offer | null {
  if (b.length < 240 || b[0] !== 2) return null;
  if (MAGIC.some((m, i) => b[236 + i] !== m)) return null;
  const options: Record<number, Uint8Array> = {};
  for (let i = 240; i < b.length;) {
    const code = b[i];
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    const len = b[i + 1];
    const value = b.slice(i + 2, i + 2 + len);
    // Long options may be split (RFC 3396): concatenate.
    options[code] = options[code] ? new Uint8Array([...options[code], ...value]) : value;
    i += 2 + len;
  }
  const lease = options[51];
  return {
    messageType: options[53]?.[0] ?? 0,
    yiaddr: ipAt(b, 16),
    siaddr: ipAt(b, 20),
    giaddr: ipAt(b, 24),
    sname: text(b.slice(44, 108)) ?? "",
    file: text(b.slice(108, 236)) ?? "",
    options,
    subnetMask: options[1] ? ipAt(options[1], 0) : undefined,
    routers: ipList(options[3]),
    dnsServers: ipList(options[6]),
    hostname: text(options[12]),
    domainName: text(options[15]),
    ntpServers: ipList(options[42]),
    serverId: options[54] ? ipAt(options[54], 0) : undefined,
    leaseTime: lease ? new DataView(lease.buffer, lease.byteOffset).getUint32(0) : undefined,
    vendorClass: text(options[60]),
    tftpServerName: text(options[66]),
    bootFileName: text(options[67]),
    domainSearch: domainList(options[119]),
  };
}

/** Sends one DISCOVER and waits for the OFFER; null when none came within the timeout. */
export function discover(opts: DiscoverOptions): Promise<Offer | null> {
  return exclusive(() => discoverOnce(opts));
}

/** Binds giaddr:67, waiting while another process holds it (no SO_REUSEADDR: a shared port
 * would silently deliver the reply to the other socket). */
async function bind67(giaddr: string, waitMs: number): Promise<dgram.Socket> {
  const deadline = Date.now() + Math.max(waitMs, 5000);
  for (;;) {
    const socket = dgram.createSocket({ type: "udp4" });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(67, giaddr, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      return socket;
    } catch (e) {
      try {
        socket.close();
      } catch { /* never bound */ }
      if ((e as { code?: string }).code !== "EADDRINUSE" || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function discoverOnce(opts: DiscoverOptions): Promise<Offer | null> {
  const giaddr = opts.giaddr ?? "127.0.0.1";
  const xid = crypto.getRandomValues(new Uint32Array(1))[0];
  const socket = await bind67(giaddr, opts.timeoutMs ?? 2000);
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return await new Promise<Offer | null>((resolve, reject) => {
      socket.on("message", (msg: Uint8Array) => {
        const reply = parseReply(new Uint8Array(msg));
        if (reply && new DataView(msg.buffer, msg.byteOffset).getUint32(4) === xid) {
          if (reply.messageType === 2) resolve(reply);
        }
      });
      socket.on("error", reject);
      timer = setTimeout(() => resolve(null), opts.timeoutMs ?? 2000);
      const packet = buildDiscover(opts.mac, xid, giaddr, opts.options);
      socket.send(Buffer.from(packet), opts.port, opts.server ?? "127.0.0.1", (err) => {
        if (err) reject(err);
      });
    }).finally(() => clearTimeout(timer));
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
