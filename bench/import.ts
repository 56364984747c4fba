/**
 * Bench section: bulk import of 1,000 servers. Each run is a child process (this module run with
 * `--child-import=COUNT,CONCURRENCY[,serialise]`), so that its peak memory is its own.
 */
import { loadConfig } from "../lib/domain/config.ts";
import { BENCH_CONFIG, rackItems, sampleRss, startBenchApp } from "./harness.ts";
import { fmtMb, results, row } from "./report.ts";

async function importRun(count: number, concurrency: number, serialise = false) {
  const config = loadConfig({
    ...BENCH_CONFIG,
    ONBOARDING_IMPORT_CONCURRENCY: String(concurrency),
  });
  await using b = await startBenchApp(config, { latencyMs: 10, serialise, rackServers: count });
  const items = rackItems(count);
  const rss = sampleRss();
  const started = performance.now();
  const res = await b.app.request("/api/v1/servers/import", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(items),
  });
  const out = await res.json() as { status: string; error?: string }[];
  const ms = performance.now() - started;
  const peakRss = rss.stop();
  if (res.status !== 200) throw new Error(`Import answered ${res.status}`);
  const ok = out.filter((r) => r.status === "ok").length;
  const firstError = out.find((r) => r.status !== "ok")?.error;
  // Duplicates: the same IP reserved twice in a subnet on any Kea server, or twice in Netbox.
  let duplicateIps = 0;
  for (const kea of b.world.kea) {
    const seen = new Set<string>();
    for (const h of kea.hosts) {
      const key = `${h["subnet-id"]}/${h["ip-address"]}`;
      if (seen.has(key)) duplicateIps++;
      seen.add(key);
    }
  }
  const netboxIps = new Set<string>();
  for (const ip of b.world.netbox.ipAddresses.values()) {
    const address = ip.address.split("/")[0];
    if (netboxIps.has(address)) duplicateIps++;
    netboxIps.add(address);
  }
  const reservations = b.world.kea.map((k) => k.hosts.length);
  return {
    count,
    concurrency,
    serialise,
    ms,
    perSecond: count / (ms / 1000),
    ok,
    firstError,
    duplicateIps,
    keaReservations: reservations,
    peakRssBytes: peakRss,
    calls: b.recorder.calls.length,
    maxInFlight: b.recorder.maxInFlight,
  };
}

type ImportRun = Awaited<ReturnType<typeof importRun>>;

/** Each import runs in its own process so that its peak memory is its own. */
async function importInChild(
  count: number,
  concurrency: number,
  serialise = false,
): Promise<ImportRun> {
  const spec = `${count},${concurrency}${serialise ? ",serialise" : ""}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", import.meta.filename!, `--child-import=${spec}`],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`Import of ${count} at concurrency ${concurrency} crashed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

export async function benchImport() {
  // The original system's way: one server at a time, every call after the previous one.
  const original = await importInChild(50, 1, true);
  const base = await importInChild(100, 1);
  const runs = [
    await importInChild(1000, 8),
    await importInChild(1000, 16),
    await importInChild(1000, 32),
  ];
  results.import = { latencyMs: 10, original, baseline: base, runs };
  row({
    section: "Import (fakes 10 ms)",
    measure: `the original way: one server, one call at a time (${original.count} servers)`,
    value: `${original.perSecond.toFixed(1)} servers/s, ${original.ok} ok`,
  });
  row({
    section: "Import (fakes 10 ms)",
    measure: `baseline: concurrency 1 (${base.count} servers)`,
    value: `${base.perSecond.toFixed(1)} servers/s, ${base.ok} ok`,
  });
  for (const r of runs) {
    const ratio = r.perSecond / base.perSecond;
    row({
      section: "Import (fakes 10 ms)",
      measure: `concurrency ${r.concurrency}${
        r.concurrency === 8 ? " (default)" : ""
      }, ${r.count} servers`,
      value: `${r.perSecond.toFixed(1)} servers/s (${
        ratio.toFixed(1)
      }×), ${r.ok} ok, ${r.duplicateIps} duplicate IPs, peak RSS ${fmtMb(r.peakRssBytes)}`,
      baseline: `${base.perSecond.toFixed(1)} servers/s; ${
        (r.perSecond / original.perSecond).toFixed(0)
      }× the original way`,
      target: "≥ 10×, 0 duplicates",
      met: ratio >= 10 && r.duplicateIps === 0 && r.ok === r.count,
    });
  }
}

if (import.meta.main) {
  const spec = Deno.args.find((a) => a.startsWith("--child-import="));
  if (!spec) throw new Error("Usage: bench/import.ts --child-import=COUNT,CONCURRENCY[,serialise]");
  const [count, concurrency, mode] = spec.slice("--child-import=".length).split(",");
  console.log(
    JSON.stringify(await importRun(Number(count), Number(concurrency), mode === "serialise")),
  );
}
