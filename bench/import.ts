/**
 * Bench section: bulk import scaling against a busy site. The simulated world runs in its own
 * process (`bench/world.ts`: every call 50–150 ms, Netbox's IP allocation one request at a time)
 * and the service in another (`bench/service.ts`), so each figure is the service's own.
 */
import { loadConfig } from "../lib/domain/config.ts";
import { BENCH_CONFIG, rackItems } from "./harness.ts";
import { cpuSeconds, memory, serviceV8Flags, startDeno } from "./processes.ts";
import { fmtMb, results, row } from "./report.ts";
import type { WorldAddress } from "./clients.ts";

/** The default `IMPORT_CONCURRENCY`. */
export const DEFAULT_CONCURRENCY = loadConfig({}).IMPORT_CONCURRENCY;
/** A busy Netbox's answer time, per call (the other systems answer alike). */
const BUSY = "50-150";

export interface WorldStats {
  calls: number;
  maxInFlight: number;
  allocationWaitMs: number;
  allocationHoldMs: number;
  allocations: number;
  allocatedIps: number;
  duplicateIps: number;
  keaReservations: number[];
}

/** `count` servers imported over HTTP at `concurrency`, with the world answering after `latency`
 * ms ("50-150": drawn from that range). `settle`: the service serves a page and an API call and
 * is left alone for 3 s before its idle memory is read. */
export async function importRun(
  count: number,
  concurrency: number,
  latency: string,
  settle = false,
) {
  await using world = await startDeno<{ url: string; address: WorldAddress }>("bench/world.ts", [
    `--latency=${latency}`,
    `--racks=${count + 1}`,
  ]);
  await using service = await startDeno<{ url: string }>(
    "bench/service.ts",
    [JSON.stringify(world.info)],
    { ...BENCH_CONFIG, ONBOARDING_IMPORT_CONCURRENCY: String(concurrency) },
    serviceV8Flags(),
  );
  const pid = service.child.pid;
  if (settle) {
    await fetch(`${service.info.url}/`).then((r) => r.text());
    await fetch(`${service.info.url}/api/v1/servers`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 3000));
  }
  const idleRssBytes = memory(pid, "VmRSS");
  const [first, ...items] = rackItems(count + 1);
  // One server first, not counted: OpenBao's login and the first compilation of each code path
  // happen once per process, not once per server.
  await post(service.info.url, [first]);
  const warmup = await worldStats(world.info.url);
  const body = JSON.stringify(items);
  const cpu = cpuSeconds(pid);
  const worldCpu = cpuSeconds(world.child.pid);
  const load = Deno.loadavg()[0];
  const started = performance.now();
  const out = await post(service.info.url, body);
  const ms = performance.now() - started;
  const cpuAfter = cpuSeconds(pid);
  const worldCpuAfter = cpuSeconds(world.child.pid);
  const peakRssBytes = memory(pid, "VmHWM");
  const heap = await fetch(`${service.info.url}/_bench/memory`).then((r) => r.json()) as {
    heapTotal: number;
    heapUsed: number;
    external: number;
  };
  const stats = await worldStats(world.info.url);
  // The HTTP layer alone, once the import is over (the cost figures' floor per call).
  const floor = settle
    ? await fetch(`${service.info.url}/_bench/floor`).then((r) => r.json()) as {
      cpuUsPerCall: number;
    }
    : undefined;
  stats.calls -= warmup.calls;
  stats.allocationWaitMs -= warmup.allocationWaitMs;
  stats.allocationHoldMs -= warmup.allocationHoldMs;
  stats.allocations -= warmup.allocations;
  stats.allocatedIps -= warmup.allocatedIps;
  console.error(`    ${count} servers at concurrency ${concurrency}: ${(ms / 1000).toFixed(1)} s`);
  return {
    count,
    concurrency,
    latency,
    ms,
    perSecond: count / (ms / 1000),
    ok: out.filter((r) => r.status === "ok").length,
    firstError: out.find((r) => r.status !== "ok")?.error,
    cpuMsPerServer: (cpuAfter.user + cpuAfter.system - cpu.user - cpu.system) * 1000 / count,
    systemCpuMsPerServer: (cpuAfter.system - cpu.system) * 1000 / count,
    worldCpuMsPerServer:
      (worldCpuAfter.user + worldCpuAfter.system - worldCpu.user - worldCpu.system) * 1000 / count,
    load,
    idleRssBytes,
    peakRssBytes,
    peakHeap: heap,
    httpFloorUsPerCall: floor?.cpuUsPerCall,
    ...stats,
  };
}

async function worldStats(world: string): Promise<WorldStats> {
  return await fetch(`${world}/_bench/stats`).then((r) => r.json());
}

async function post(service: string, items: unknown) {
  const res = await fetch(`${service}/api/v1/servers/import`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof items === "string" ? items : JSON.stringify(items),
  });
  if (res.status !== 200) throw new Error(`Import answered ${res.status}: ${await res.text()}`);
  return await res.json() as { status: string; error?: string }[];
}

const SWEEP = [4, 8, 12, 16, 24, 32];

export async function benchImport() {
  const section = "Import (busy site: every call 50–150 ms, IP allocation one request at a time)";
  const base = await importRun(20, 1, BUSY);
  // Ten servers per slot: the start and the last, partly filled round weigh little.
  const runs = [];
  for (const n of SWEEP) runs.push(await importRun(n * 10, n, BUSY));
  results.import = { latency: BUSY, baseline: base, runs };
  row({
    section,
    measure: `baseline: concurrency 1 (${base.count} servers)`,
    value: `${base.perSecond.toFixed(2)} servers/s, ${base.ok} ok, ${
      (base.calls / base.count).toFixed(0)
    } calls per server; CPU per server: service ${base.cpuMsPerServer.toFixed(1)} ms, world ${
      base.worldCpuMsPerServer.toFixed(1)
    } ms; load average ${base.load.toFixed(1)} at the start`,
  });
  for (const r of runs) {
    const efficiency = r.perSecond / (r.concurrency * base.perSecond);
    const isDefault = r.concurrency === DEFAULT_CONCURRENCY;
    row({
      section,
      measure: `concurrency ${r.concurrency}${isDefault ? " (default)" : ""}, ${r.count} servers`,
      value: `${r.perSecond.toFixed(2)} servers/s = ${
        (efficiency * 100).toFixed(0)
      } % of ${r.concurrency} × baseline; ${r.ok} ok, ${r.duplicateIps} duplicate IPs; ${r.allocatedIps} IPs in ${r.allocations} allocation requests (${
        (r.allocatedIps / r.allocations).toFixed(1)
      } per request), the lock waited ${
        (r.allocationWaitMs / r.allocations).toFixed(0)
      } ms and was held ${
        (r.allocationHoldMs / r.allocations).toFixed(0)
      } ms per request (at most ${
        (1000 * r.allocatedIps / r.allocationHoldMs).toFixed(1)
      } IPs/s at that size); CPU per server: service ${r.cpuMsPerServer.toFixed(1)} ms, world ${
        r.worldCpuMsPerServer.toFixed(1)
      } ms; service peak RSS ${fmtMb(r.peakRssBytes)}; load average ${
        r.load.toFixed(1)
      } at the start`,
      baseline: `${base.perSecond.toFixed(2)} servers/s`,
      ...(isDefault
        ? {
          target: "≥ 85 % of default × baseline, 0 duplicates",
          met: efficiency >= 0.85 && r.duplicateIps === 0 && r.ok === r.count,
        }
        : {}),
    });
  }
}
