/**
 * Import throughput of service processes over real HTTP: one process on a Deno KV file, or 1 to N
 * processes on one PostgreSQL, against one simulated datacenter served from this process (every
 * answer after `latencyMs`). The import goes to the first process; the others take work from the
 * shared queue, within the one import concurrency limit they share.
 */
import { createDatabase, startPostgres } from "../sim/real_kea.ts";
import { serveFake } from "../sim/faults.ts";
import { createSimulatedWorld } from "../sim/world.ts";
import { addBenchRacks, rackItems } from "./harness.ts";
import { results, row } from "./report.ts";

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

const ROOT = new URL("..", import.meta.url);

export async function replicaImport(
  store: "kv" | "postgres",
  replicas: number,
  count: number,
  concurrency: number,
  latencyMs = 10,
): Promise<ReplicaRun> {
  const world = createSimulatedWorld();
  addBenchRacks(world, count);
  const slow = (h: (r: Request) => Promise<Response> | Response) => async (r: Request) => {
    await new Promise((res) => setTimeout(res, latencyMs));
    return await h(r);
  };
  const servers = [
    serveFake(slow(world.netbox.handler)),
    serveFake(slow(world.openbao.handler)),
    serveFake(slow(world.kea[0].handler)),
    serveFake(slow(world.kea[1].handler)),
    serveFake(slow(world.kubernetes.handler)),
  ];
  const [netbox, openbao, kea0, kea1, kube] = servers;
  const dir = await Deno.makeTempDir({ prefix: "bench-replicas-" });
  const pg = store === "postgres" ? await startPostgres() : undefined;
  const children: Deno.ChildProcess[] = [];
  try {
    await Deno.writeTextFile(
      `${dir}/kubeconfig`,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        "current-context": "b",
        clusters: [{ name: "b", cluster: { server: kube.url } }],
        users: [{ name: "b", user: { token: "bench" } }],
        contexts: [{ name: "b", context: { cluster: "b", user: "b" } }],
      }),
    );
    const state: Record<string, string> = pg
      ? { ONBOARDING_DATABASE_URL: await createDatabase(pg.url, "bench_state") }
      : { ONBOARDING_KV_PATH: `${dir}/onboarding.kv` };
    const ports: number[] = [];
    for (let i = 0; i < replicas; i++) {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      ports.push((l.addr as Deno.NetAddr).port);
      l.close();
      children.push(
        new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", "main.ts"],
          cwd: ROOT,
          env: {
            ...state,
            ONBOARDING_PORT: String(ports[i]),
            ONBOARDING_HOSTNAME: "127.0.0.1",
            ONBOARDING_NETBOX_URL: netbox.url,
            ONBOARDING_NETBOX_TOKEN: world.netbox.token,
            ONBOARDING_OPENBAO_URL: openbao.url,
            ONBOARDING_OPENBAO_ROLE_ID: world.openbao.roleId,
            ONBOARDING_OPENBAO_SECRET_ID: world.openbao.secretId,
            ONBOARDING_KEA_SERVERS: JSON.stringify([kea0.url, kea1.url]),
            ONBOARDING_KEA_MODE: "api",
            // The BMCs are not reachable from the service processes here.
            ONBOARDING_BMC_CHECK: "false",
            ONBOARDING_BMC_NETWORKS: "10.16.28.0/24,172.16.0.0/22",
            ONBOARDING_IMPORT_CONCURRENCY: String(concurrency),
            ONBOARDING_WRITE_RATE_LIMIT: "1000000",
            ONBOARDING_LOG_LEVEL: "error",
            KUBECONFIG: `${dir}/kubeconfig`,
          },
          stdout: "null",
          stderr: "inherit",
        }).spawn(),
      );
    }
    for (const port of ports) {
      for (let n = 0;; n++) {
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          async (r) => (await r.body?.cancel(), r.ok),
          () => false,
        );
        if (ok) break;
        if (n > 300) throw new Error("a service process did not become ready");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
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
    world.close();
    await Promise.all(servers.map((s) => s.close()));
    await pg?.stop();
    await Deno.remove(dir, { recursive: true });
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
