/** Bench section: one registration with all four integrations, every answer after 20 ms. */
import { loadConfig } from "../lib/domain/config.ts";
import { BENCH_CONFIG, benchMac, startBenchApp } from "./harness.ts";
import { fmtMs, results, row } from "./report.ts";

/** The README's full example plus a scanned boot MAC, at a rack unit of the seeded datacenter. */
function fullItem(position: number) {
  return {
    bmc_mac: benchMac(position, "3c:ec:ef"),
    bmc_password: `S3cr3t!pass-${position}`,
    boot_mac: benchMac(position, "3c:ec:ee"),
    site: "dcoa",
    location: "hall-a",
    rack: "RB06",
    position,
    device_type: "sys-1029u",
    device_role: "server",
    bmc_prefix: "10.16.28.0/24",
  };
}

async function registrationRun(serialise: boolean, latencyMs = 20, bmcCheck = true) {
  await using b = await startBenchApp(loadConfig({ ...BENCH_CONFIG }), {
    latencyMs,
    serialise,
    bmcCheck,
  });
  const one = async (position: number) => {
    b.recorder.reset();
    const started = performance.now();
    const res = await b.app.request("/api/v1/servers/register?wait=60", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(fullItem(position)),
    });
    const body = await res.json();
    const wallMs = performance.now() - started;
    if (res.status !== 201) {
      throw new Error(`Registration answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    }
    const steps = Object.fromEntries(
      Object.entries(body.registration.steps as Record<string, { status: string }>).map((
        [k, v],
      ) => [k, v.status]),
    );
    return {
      wallMs,
      calls: b.recorder.calls.length,
      criticalPath: b.recorder.criticalPath(),
      // Each wait on the critical path, so what remains sequential is visible.
      chain: b.recorder.criticalChain().map((c) => `${c.host} ${c.method} ${c.path.split("?")[0]}`),
      maxInFlight: b.recorder.maxInFlight,
      byHost: b.recorder.byHost(),
      wallOverLatency: wallMs / latencyMs,
      steps,
    };
  };
  // The first registration also logs in to OpenBao; the second shows the steady state.
  const cold = await one(20);
  const warm = await one(31);
  return { cold, warm };
}

export async function benchRegistration() {
  const fast = await registrationRun(false);
  const slow = await registrationRun(true);
  const noCheck = await registrationRun(false, 20, false);
  const instant = await registrationRun(false, 0);
  results.registration = { latencyMs: 20, concurrent: fast, serialised: slow, noCheck, instant };
  const target = 8;
  row({
    section: "Registration (fakes 20 ms)",
    measure: "wall time, `?wait=` (warm)",
    value: fmtMs(fast.warm.wallMs),
    baseline: fmtMs(slow.warm.wallMs),
  });
  row({
    section: "Registration (fakes 20 ms)",
    measure: "sequential round trips (warm)",
    value: `${fast.warm.criticalPath} of ${fast.warm.calls} calls`,
    baseline: `${slow.warm.criticalPath} of ${slow.warm.calls} calls`,
    target: `≤ ${target}`,
    met: fast.warm.criticalPath <= target,
  });
  row({
    section: "Registration (fakes 20 ms)",
    measure: "without the Redfish BMC check (warm)",
    value: `${
      fmtMs(noCheck.warm.wallMs)
    }, ${noCheck.warm.criticalPath} of ${noCheck.warm.calls} calls`,
  });
  row({
    section: "Registration (fakes 20 ms)",
    measure: "engine + KV time alone (fakes at 0 ms, warm)",
    value: fmtMs(instant.warm.wallMs),
  });
  console.log(
    `Critical path of one registration (warm, ${fast.warm.criticalPath} round trips, target ≤ ${target}):\n` +
      fast.warm.chain.map((c, i) => `  ${i + 1}. ${c}`).join("\n"),
  );
}
