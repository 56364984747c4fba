/** Bench section: the drift check of 1,000 registered servers (lib/registration/drift.ts), every
 * answer after 10 ms. */
import { loadConfig } from "../lib/domain/config.ts";
import { BENCH_CONFIG, rackItems, startBenchApp } from "./harness.ts";
import { results, row } from "./report.ts";

export async function benchDrift() {
  const section = "Drift check (fakes 10 ms)";
  const count = 1000;
  await using b = await startBenchApp(loadConfig({ ...BENCH_CONFIG }), {
    latencyMs: 10,
    rackServers: count,
  });
  const res = await b.app.request("/api/v1/servers/import", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(rackItems(count)),
  });
  const ok = (await res.json() as { status: string }[]).filter((r) => r.status === "ok").length;
  b.recorder.reset();
  const started = performance.now();
  const report = await b.deps.drift.check();
  const ms = performance.now() - started;
  const calls = b.recorder.calls.length;
  results.drift = {
    servers: report.servers,
    ok,
    ms,
    calls,
    maxInFlight: b.recorder.maxInFlight,
    findings: report.findings.length,
    errors: report.errors,
  };
  row({
    section,
    measure: `${report.servers.toLocaleString("en")} servers (${ok} imported ok)`,
    value: `${(ms / 1000 / (report.servers / 1000)).toFixed(2)} s per 1,000 servers, ${
      (calls / report.servers).toFixed(2)
    } calls per server, at most ${b.recorder.maxInFlight} in flight, ${report.findings.length} findings`,
    target: "no findings, no errors",
    met: report.findings.length === 0 && report.errors.length === 0,
  });
}
