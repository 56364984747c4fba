/**
 * Bench section: the service's own cost, apart from the simulated world (each in its own
 * process): its resident memory idle and at its peak during a 1,000-server import, and its CPU
 * time per imported server.
 */
import { DEFAULT_CONCURRENCY, importRun } from "./import.ts";
import { fmtMb, fmtS, MB, results, row } from "./report.ts";

export async function benchMemory() {
  const section = "Service cost (its own process; the world in another, every call 10 ms)";
  const count = 1000;
  const r = await importRun(count, DEFAULT_CONCURRENCY, "10", true);
  results.memory = r;
  row({
    section,
    measure: "idle RSS (after one page and one API call, 3 s idle)",
    value: fmtMb(r.idleRssBytes),
    target: "≤ 120 MB",
    met: r.idleRssBytes <= 120 * MB,
  });
  row({
    section,
    measure: `peak RSS (VmHWM) during a ${count}-server import at concurrency ${r.concurrency}`,
    value: `${fmtMb(r.peakRssBytes)} (V8 heap at most ${fmtMb(r.peakHeap.heapTotal)}, ${
      fmtMb(r.peakHeap.heapUsed)
    } of it used; ${fmtMb(r.peakHeap.external)} outside the heap); ${r.ok}/${count} ok in ${
      fmtS(r.ms)
    }`,
    target: "≤ 150 MB",
    met: r.peakRssBytes <= 150 * MB && r.ok === count,
  });
  row({
    section,
    measure: `service CPU time (user + system) per imported server, ${count} servers`,
    value: `${r.cpuMsPerServer.toFixed(1)} ms, of which ${
      r.systemCpuMsPerServer.toFixed(1)
    } ms in the kernel (${fmtS(r.cpuMsPerServer * count)} in all; ${
      (r.calls / count).toFixed(0)
    } calls per server, ${(r.cpuMsPerServer * count / r.calls * 1000).toFixed(0)} µs per call)`,
    target: "≤ 5 ms",
    met: r.cpuMsPerServer <= 5,
  });
  const floor = r.httpFloorUsPerCall!;
  row({
    section,
    measure: "floor: the service's HTTP layer alone (4,000 calls answered at once, 8 at a time)",
    value: `${floor.toFixed(0)} µs CPU per call; × ${(r.calls / count).toFixed(0)} calls = ${
      (floor * r.calls / count / 1000).toFixed(1)
    } ms per server before any store, engine or integration work`,
  });
}
