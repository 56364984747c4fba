/**
 * The simulated datacenter as its own process for the bench, answering like a busy site: every
 * call waits a latency drawn from a range (seeded, so runs compare), and Netbox's IP allocation
 * holds one lock for its whole answer, as Netbox's advisory lock around `available-ips` does (one
 * lock key for every prefix), once per request whether it asks for one address or a list. Run by the
 * bench, not by hand:
 *
 *   deno run --allow-all bench/world.ts --latency=50-150 --racks=1000
 *
 * Prints one JSON line (`{ url, address }`) and serves on 127.0.0.1 until SIGTERM. A service
 * reaches every system through `url`, naming the system's own host in `x-bench-host` (see
 * `tunnel` in bench/service.ts). `GET /_bench/stats` counts calls, allocation requests and the
 * addresses they allocated, and duplicate IPs.
 */
import { createSimulatedWorld, type SimWorld } from "../sim/world.ts";
import { addBenchRacks, duplicateIps, Mutex, worldAddress } from "./harness.ts";
import { prng } from "./labels.ts";

/** One Netbox IP allocation request at a time, the latency included. */
const ALLOCATION = /^\/api\/ipam\/prefixes\/\d+\/available-ips\/?$/;

export function serveWorld(world: SimWorld, latency: [number, number]) {
  const handler = world.handler;
  const random = prng(42);
  const allocation = new Mutex();
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let allocationWaitMs = 0;
  let allocationHoldMs = 0;
  let allocations = 0;
  let allocatedIps = 0;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const host = req.headers.get("x-bench-host");
    if (!host) {
      // A small JSON answer at once: what the service's HTTP layer costs per call, alone.
      if (url.pathname === "/_bench/ping") return Response.json({ id: 1, status: "active" });
      if (url.pathname !== "/_bench/stats") return new Response(null, { status: 404 });
      const stats = {
        calls,
        maxInFlight,
        allocationWaitMs,
        allocationHoldMs,
        allocations,
        allocatedIps,
        duplicateIps: duplicateIps(world),
        keaReservations: world.kea.map((k) => k.hosts.length),
      };
      return Response.json(stats);
    }
    const headers = new Headers(req.headers);
    headers.delete("x-bench-host");
    const body = req.body ? await req.arrayBuffer() : undefined;
    const original = new Request(`http://${host}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      body,
    });
    calls++;
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    const queued = performance.now();
    const release = req.method === "POST" && ALLOCATION.test(url.pathname)
      ? await allocation.lock()
      : undefined;
    const locked = performance.now();
    if (release) allocationWaitMs += locked - queued;
    try {
      const wait = latency[0] + random() * (latency[1] - latency[0]);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const res = await handler(original);
      if (release && res.status === 201) {
        const asked = JSON.parse(new TextDecoder().decode(body));
        allocatedIps += Array.isArray(asked) ? asked.length : 1;
      }
      return res;
    } finally {
      if (release) {
        release();
        allocationHoldMs += performance.now() - locked;
        allocations++;
      }
      inFlight--;
    }
  });
}

if (import.meta.main) {
  const arg = (name: string) =>
    Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const [min, max = min] = (arg("latency") ?? "0").split("-").map(Number);
  const world = createSimulatedWorld({ autoBmcs: true });
  addBenchRacks(world, Number(arg("racks") ?? 1000));
  const server = serveWorld(world, [min, max]);
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  console.log(
    JSON.stringify({ url: `http://127.0.0.1:${server.addr.port}`, address: worldAddress(world) }),
  );
  await server.finished;
  world.close();
}
