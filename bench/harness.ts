/**
 * Shared pieces of the benchmarks: the simulated datacenter behind clients whose fetch records
 * every external call (to count sequential round trips) or serialises them (the baseline), item
 * generators and small statistics.
 */
import type { Config } from "../lib/domain/config.ts";
import type { RetryPolicy } from "../lib/integrations/http.ts";
import type { Integrations } from "../lib/integrations/mod.ts";
import type { Metrics } from "../lib/observability/metrics.ts";
import { type SimulatedApp, startSimulatedApp } from "../sim/app.ts";
import type { Handler } from "../sim/faults.ts";
import { NETBOX_SEED } from "../sim/netbox/seed.ts";
import { createSimulatedWorld, SIM_URLS, type SimWorld } from "../sim/world.ts";
import type { WorldAddress } from "./clients.ts";

/** The configuration every in-process bench app starts from. */
export const BENCH_CONFIG = {
  ONBOARDING_BMC_PREFIX: "10.16.28.0/24",
  // The seeded BMC prefix and the bench racks' one (see `addBenchRacks`).
  ONBOARDING_BMC_NETWORKS: "10.16.28.0/24,172.16.0.0/22",
  // The benchmark drives many writes from one client; the limiter is not what is measured.
  ONBOARDING_WRITE_RATE_LIMIT: "1000000",
};

/** One external call as the client saw it: from the moment it was sent to the answer. */
export interface CallRecord {
  host: string;
  method: string;
  path: string;
  start: number;
  end: number;
}

/** Records every call through the injected fetch and how many were in flight at once. */
export class CallRecorder {
  calls: CallRecord[] = [];
  inFlight = 0;
  maxInFlight = 0;

  reset(): void {
    this.calls = [];
    this.inFlight = 0;
    this.maxInFlight = 0;
  }

  /**
   * The longest chain of calls where each starts after the previous one ended: the number of
   * sequential round trips on the critical path.
   */
  criticalPath(): number {
    return this.criticalChain().length;
  }

  /** The calls of that longest chain, in order: the waits that remain on the critical path. */
  criticalChain(): CallRecord[] {
    const sorted = [...this.calls].sort((a, b) => a.end - b.end);
    const depth: number[] = [];
    const previous: number[] = [];
    let last = -1;
    for (let i = 0; i < sorted.length; i++) {
      let d = 1;
      let p = -1;
      // Of equally deep predecessors, the one the call most likely waited for: a call to the same
      // system (the next request of a sequence), else the one that ended last.
      const likelier = (j: number) =>
        sorted[j].host === sorted[i].host || sorted[p].host !== sorted[i].host;
      for (let j = 0; j < i; j++) {
        if (sorted[j].end > sorted[i].start) continue;
        if (depth[j] + 1 > d || (depth[j] + 1 === d && p >= 0 && likelier(j))) {
          d = depth[j] + 1;
          p = j;
        }
      }
      depth.push(d);
      previous.push(p);
      if (last < 0 || d > depth[last]) last = i;
    }
    const chain: CallRecord[] = [];
    for (let i = last; i >= 0; i = previous[i]) chain.unshift(sorted[i]);
    return chain;
  }

  /** Calls per integration host, e.g. `{ "netbox.sim": 9, … }`. */
  byHost(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.calls) out[c.host] = (out[c.host] ?? 0) + 1;
    return out;
  }
}

/** A FIFO lock: one holder at a time, the way a program making one call after another behaves. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => release = r);
    const previous = this.#tail;
    this.#tail = previous.then(() => next);
    await previous;
    return release;
  }
}

export interface BenchIntegrationOptions {
  /** Every answer waits this long (the network plus the remote system's work). */
  latencyMs: number;
  /** Baseline: every call waits for the previous one to finish, whoever makes it. */
  serialise?: boolean;
  recorder?: CallRecorder;
  metrics?: Metrics;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Include the Redfish BMC check (default true), like `ONBOARDING_BMC_CHECK`. */
  bmcCheck?: boolean;
}

/** Clients of all four integrations and the BMCs, talking to `world` through a recording fetch. */
export function benchIntegrations(world: SimWorld, o: BenchIntegrationOptions): Integrations {
  const mutex = o.serialise ? new Mutex() : undefined;
  const recorded = (handler: Handler): Handler => async (req) => {
    const release = await mutex?.lock();
    const url = new URL(req.url);
    const record: CallRecord = {
      host: url.hostname,
      method: req.method,
      path: url.pathname,
      start: performance.now(),
      end: 0,
    };
    const rec = o.recorder;
    if (rec) rec.maxInFlight = Math.max(rec.maxInFlight, ++rec.inFlight);
    try {
      return await handler(req);
    } finally {
      record.end = performance.now();
      if (rec) {
        rec.inFlight--;
        rec.calls.push(record);
      }
      release?.();
    }
  };
  return world.integrations({
    through: recorded,
    latencyMs: o.latencyMs,
    metrics: o.metrics,
    timeoutMs: o.timeoutMs ?? 5000,
    retry: o.retry ?? { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    bmcCheck: o.bmcCheck,
  });
}

/** The simulated systems' (in-process) URLs and credentials. */
export function worldAddress(world: SimWorld): WorldAddress {
  return {
    netbox: SIM_URLS.netbox,
    netboxToken: world.netbox.token,
    openbao: SIM_URLS.openbao,
    openbaoRoleId: world.openbao.roleId,
    openbaoSecretId: world.openbao.secretId,
    kea: SIM_URLS.kea,
    kubernetes: SIM_URLS.kubernetes,
  };
}

/** The app on a fresh simulated datacenter with in-memory KV and the queue worker running. */
export interface BenchApp extends SimulatedApp, AsyncDisposable {
  recorder: CallRecorder;
}

export async function startBenchApp(
  config: Config,
  options: Omit<BenchIntegrationOptions, "recorder"> & {
    /** Add empty racks and a BMC prefix for this many servers (see `rackItems`). */
    rackServers?: number;
  },
): Promise<BenchApp> {
  const world = createSimulatedWorld({ autoBmcs: true });
  if (options.rackServers) addBenchRacks(world, options.rackServers);
  const recorder = new CallRecorder();
  const integrations = benchIntegrations(world, { ...options, recorder });
  const started = await startSimulatedApp({
    config,
    world,
    integrations,
    metrics: options.metrics,
  });
  return { ...started, recorder, [Symbol.asyncDispose]: started.close };
}

/** A locally administered MAC: a three-byte `prefix` and `n` (distinct for n < 2^24). */
export function benchMac(n: number, prefix = "02:b0:00"): string {
  const h = (v: number) => v.toString(16).padStart(2, "0");
  return `${prefix}:${h((n >> 16) & 255)}:${h((n >> 8) & 255)}:${h(n & 255)}`;
}

/**
 * `count` import items that carry their BMC IP (172.16.0.0/22, Kea subnet 2 of the simulated
 * world), so no Netbox rack slot is needed: the seeded racks have only 84 units between them.
 */
export function bmcIpItems(count: number, offset = 0): Record<string, string>[] {
  if (offset + count > 1020) throw new RangeError("172.16.0.0/22 holds at most 1020 BMC IPs");
  return Array.from({ length: count }, (_, k) => {
    const i = offset + k;
    const host = i + 2; // .0 is the network, .1 the gateway
    return {
      device_name: `bench-${String(i).padStart(4, "0")}`,
      bmc_mac: benchMac(i),
      bmc_password: `bench-pw-${i}`,
      bmc_ip: `172.16.${host >> 8}.${host & 255}`,
      bmc_prefix: "172.16.0.0/22",
      boot_mac: benchMac(i, "02:b1:00"),
    };
  });
}

const RACK_UNITS = 42;
/** The BMC prefix of the bench racks in Netbox: Kea subnet 2 of the simulated world. */
export const BENCH_BMC_PREFIX = "172.16.0.0/22";
const benchRack = (n: number) => `RX${String(n + 1).padStart(2, "0")}`;

/** Empty 42 U racks for `count` 1 U servers in the seeded site and hall, and their BMC prefix. */
export function addBenchRacks(world: SimWorld, count: number): void {
  const nb = world.netbox;
  const site = [...nb.sites.values()].find((s) => s.slug === NETBOX_SEED.site.slug)!;
  const location = [...nb.locations.values()].find((l) => l.slug === NETBOX_SEED.location.slug)!;
  for (let r = 0; r < Math.ceil(count / RACK_UNITS); r++) {
    nb.addRack({ name: benchRack(r), siteId: site.id, locationId: location.id, uHeight: 42 });
  }
  nb.addPrefix({ prefix: BENCH_BMC_PREFIX, description: "BMC (bench racks)" });
}

/**
 * `count` scanned servers filling the racks of `addBenchRacks` from U1, the way a technician
 * registers them: site, hall, rack, unit, type and role, the BMC IP allocated from the prefix in
 * Netbox. Every step runs: Netbox, OpenBao, Kea, the Redfish check and Metal3.
 */
export function rackItems(count: number): Record<string, string | number>[] {
  if (count > 1020) throw new RangeError(`${BENCH_BMC_PREFIX} holds at most 1020 BMC IPs here`);
  return Array.from({ length: count }, (_, i) => ({
    device_name: `${NETBOX_SEED.site.slug}-${benchRack(Math.floor(i / RACK_UNITS)).toLowerCase()}u${
      (i % RACK_UNITS) + 1
    }`,
    bmc_mac: benchMac(i, "02:b2:00"),
    bmc_password: `bench-pw-${i}`,
    site: NETBOX_SEED.site.slug,
    location: NETBOX_SEED.location.slug,
    rack: benchRack(Math.floor(i / RACK_UNITS)),
    position: (i % RACK_UNITS) + 1,
    device_type: "sys-1029u",
    device_role: "server",
    bmc_prefix: BENCH_BMC_PREFIX,
    boot_mac: benchMac(i, "02:b3:00"),
  }));
}

/** The same IP reserved twice in a subnet on any Kea server, or twice in Netbox. */
export function duplicateIps(world: SimWorld): number {
  let duplicates = 0;
  for (const kea of world.kea) {
    const seen = new Set<string>();
    for (const h of kea.hosts) {
      const key = `${h["subnet-id"]}/${h["ip-address"]}`;
      if (seen.has(key)) duplicates++;
      seen.add(key);
    }
  }
  const netboxIps = new Set<string>();
  for (const ip of world.netbox.ipAddresses.values()) {
    const address = ip.address.split("/")[0];
    if (netboxIps.has(address)) duplicates++;
    netboxIps.add(address);
  }
  return duplicates;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0–100). */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Samples this process's resident memory every `everyMs` until stopped; returns the peak. */
export function sampleRss(everyMs = 50): { stop(): number } {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, Deno.memoryUsage().rss);
    },
  };
}
