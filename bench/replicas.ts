/**
 * Import throughput of service processes over real HTTP: one process on a Deno KV file, or 1 to N
 * processes on one PostgreSQL, against one simulated datacenter served from this process (every
 * answer after `latencyMs`). The import goes to the first process; the others take work from the
 * shared queue, within the one import concurrency limit they share.
 */
import { createDatabase, startPostgres } from "../sim/real_kea.ts";
import { createSimulatedWorld } from "../sim/world.ts";
import { addBenchRacks, rackItems } from "./harness.ts";
import { results, row } from "./report.ts";
import { freePort, serveWorld, spawnService, waitUntilUp } from "../tests/service_process.ts";

export interface ReplicaRun {
  store: "kv" | "postgres";
  replicas: number;
  count: number;
  concurrency: number;
  ms: number;
  perSecond: number;
  ok: number;
  duplicateIps: number;
}

export async function replicaImport(
  store: "kv" | "postgres",
  replicas: number,
  count: number,
  concurrency: number,
  latencyMs = 10,
): Promise<ReplicaRun> {
  const world = createSimulatedWorld();
  addBenchRacks(world, count);
  const served = await serveWorld(world, { delayMs: latencyMs, prefix: "bench-replicas-" });
  const pg = store === "postgres" ? await startPostgres() : undefined;
  const children: Deno.ChildProcess[] = [];
  try {
    const state: Record<string, string> = pg
      ? { ONBOARDING_DATABASE_URL: await createDatabase(pg.url, "bench_state") }
      : { ONBOARDING_KV_PATH: `${served.dir}/onboarding.kv` };
    const ports = Array.from({ length: replicas }, freePort);
    for (const port of ports) {
      children.push(spawnService({
        ...served.env,
        ...state,
        ONBOARDING_PORT: String(port),
        // The BMCs are not reachable from the service processes here (no BMC check).
        ONBOARDING_BMC_NETWORKS: "10.16.28.0/24,172.16.0.0/22",
        ONBOARDING_IMPORT_CONCURRENCY: String(concurrency),
        ONBOARDING_WRITE_RATE_LIMIT: "1000000",
        ONBOARDING_LOG_LEVEL: "error",
      }, { stdout: "null", stderr: "inherit" }));
    }
    for (const port of ports) await waitUntilUp(`http://127.0.0.1:${port}/readyz`);
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${ports[0]}/api/v1/servers/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(rackItems(count)),
    });
    const out = await res.json() as { status: string }[];
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`Import answered ${res.status}`);
    const addresses = [...world.netbox.ipAddresses.values()].map((ip) => ip.address);
    return {
      store,
      replicas,
      count,
      concurrency,
      ms,
      perSecond: count / (ms / 1000),
      ok: out.filter((r) => r.status === "ok").length,
      duplicateIps: addresses.length - new Set(addresses).size,
    };
  } finally {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
      await c.status;
    }
    await pg?.stop();
    await served[Symbol.asyncDispose]();
  }
}

/** The bench section: import throughput of service processes on Deno KV and on PostgreSQL. */
export async function benchReplicas() {
  const section = "Replicas (service processes, fakes 10 ms)";
  const count = 300, concurrency = 8;
  const runs = [
    await replicaImport("kv", 1, count, concurrency),
    await replicaImport("postgres", 1, count, concurrency),
    await replicaImport("postgres", 3, count, concurrency),
  ];
  results.replicas = runs;
  const kv = runs[0];
  for (const r of runs) {
    row({
      section,
      measure: `${r.store === "kv" ? "Deno KV" : "PostgreSQL"}, ${r.replicas} replica${
        r.replicas > 1 ? "s" : ""
      }: import of ${r.count} at concurrency ${r.concurrency} (shared)`,
      value: `${r.perSecond.toFixed(1)} servers/s, ${r.ok} ok, ${r.duplicateIps} duplicate IPs`,
      baseline: r === kv ? undefined : `${kv.perSecond.toFixed(1)} servers/s on Deno KV`,
    });
  }
}
