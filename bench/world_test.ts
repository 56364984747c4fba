/** The bench's busy world: Netbox's IP allocation holds one lock for its whole answer (latency
 * included), every other call runs side by side. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createSimulatedWorld } from "../sim/world.ts";
import { addBenchRacks, BENCH_BMC_PREFIX } from "./harness.ts";
import { serveWorld } from "./world.ts";

Deno.test("the bench world serialises IP allocations only", async () => {
  const world = createSimulatedWorld({ autoBmcs: true });
  addBenchRacks(world, 4);
  const server = serveWorld(world, [50, 50]);
  const base = `http://127.0.0.1:${server.addr.port}`;
  const prefix = [...world.netbox.prefixes.values()].find((p) => p.prefix === BENCH_BMC_PREFIX)!;
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        "x-bench-host": "netbox.sim",
        authorization: `Token ${world.netbox.token}`,
        "content-type": "application/json",
      },
      body: body ? JSON.stringify(body) : undefined,
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  try {
    // Other calls overlap: four at once are four in flight.
    await Promise.all([1, 2, 3, 4].map(() => call("GET", "/api/status/")));
    assertEquals((await fetch(`${base}/_bench/stats`).then((r) => r.json())).maxInFlight, 4);

    const started = performance.now();
    const allocated = await Promise.all(
      [1, 2, 3, 4].map(() =>
        call("POST", `/api/ipam/prefixes/${prefix.id}/available-ips/`, { status: "active" })
      ),
    );
    const elapsed = performance.now() - started;
    assertEquals(allocated.map((a) => a.status), [201, 201, 201, 201]);
    assertEquals(new Set(allocated.map((a) => a.body.address)).size, 4);
    assert(elapsed >= 4 * 50, `4 allocations of 50 ms each took ${elapsed} ms: not one at a time`);

    const stats = await fetch(`${base}/_bench/stats`).then((r) => r.json());
    assertEquals(stats.duplicateIps, 0);
    assert(stats.allocationWaitMs >= (1 + 2 + 3) * 50 * 0.9, "the allocations waited for the lock");

    // A list takes the lock once, for the answer's latency, however many addresses it asks for.
    const listed = performance.now();
    const list = await call("POST", `/api/ipam/prefixes/${prefix.id}/available-ips/`, [
      { status: "active" },
      { status: "active" },
      { status: "active" },
    ]);
    const listMs = performance.now() - listed;
    assertEquals(list.status, 201);
    assertEquals(new Set(list.body.map((ip: { address: string }) => ip.address)).size, 3);
    assert(listMs < 2 * 50, `a list of 3 took ${listMs} ms`);
    const after = await fetch(`${base}/_bench/stats`).then((r) => r.json());
    assertEquals([after.allocations, after.allocatedIps], [5, 7]);
    assertEquals(after.duplicateIps, 0);
  } finally {
    await server.shutdown();
    world.close();
  }
});
