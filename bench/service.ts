/**
 * The service alone in its process, for the bench's cost figures: the app with its queue worker
 * and a KV file, its clients reaching the simulated world of `bench/world.ts` over loopback.
 * No simulator code is loaded here. Configured by `ONBOARDING_*` variables like `main.ts`; prints
 * `{ "url": … }` and serves until SIGTERM; `GET /_bench/memory` answers the V8 heap's peak.
 *
 *   deno run --allow-all bench/service.ts '<the world's JSON line>'
 */
import { loadConfig } from "../lib/domain/config.ts";
import { silentLogger } from "../lib/observability/log.ts";
import { createApp, createServices } from "../app.ts";
import { benchClients, type WorldAddress } from "./clients.ts";
import { createHttpClient } from "../lib/integrations/http.ts";
import { cpuSeconds } from "./processes.ts";

/**
 * A fetch that sends every call to the world's one port, naming the system it was meant for. It
 * adds as little as it can to the service's own cost: the caller's body, signal and headers pass
 * as they are, a plain record of headers stays one (fetch converts a Headers object again).
 */
export function tunnel(worldUrl: string): typeof fetch {
  return async (input, init) => {
    if (input instanceof Request) {
      const req = new Request(input, init);
      const url = new URL(req.url);
      const headers = new Headers(req.headers);
      headers.set("x-bench-host", url.host);
      return await fetch(`${worldUrl}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.body ? await req.arrayBuffer() : undefined,
        signal: req.signal,
        redirect: "manual",
      });
    }
    const url = typeof input === "string" ? new URL(input) : input;
    const given = init?.headers;
    const headers = given === undefined || (given.constructor === Object)
      ? { ...given as Record<string, string> | undefined, "x-bench-host": url.host }
      : Object.fromEntries([...new Headers(given), ["x-bench-host", url.host]]);
    return await fetch(`${worldUrl}${url.pathname}${url.search}`, {
      ...init,
      headers,
      redirect: "manual",
    });
  };
}

/**
 * The floor under the service's cost per call: this process's CPU time for 4,000 calls of the
 * product's HTTP layer (timeout, retry policy, JSON) to a world endpoint that answers at once
 * with a small JSON body, 8 at a time, with nothing else running. Taken while the service idles.
 */
async function httpFloor(worldUrl: string): Promise<Response> {
  const http = createHttpClient({ integration: "netbox", timeoutMs: 5000 });
  const calls = 4000;
  const call = () => http.request("ping", "GET", `${worldUrl}/_bench/ping`);
  for (let i = 0; i < 100; i++) await call(); // compiled and connected first
  const before = cpuSeconds("self");
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next++ < calls) await call();
  }));
  const after = cpuSeconds("self");
  const ms = (after.user + after.system - before.user - before.system) * 1000;
  return Response.json({ calls, cpuUsPerCall: ms * 1000 / calls });
}

if (import.meta.main) {
  const world = JSON.parse(Deno.args[0]) as { url: string; address: WorldAddress };
  // A KV file, as in production (an in-memory KV would hold every record in this process).
  const kvDir = await Deno.makeTempDir({ prefix: "bench-service-" });
  const kv = await Deno.openKv(`${kvDir}/onboarding.kv`);
  // The V8 heap's share of the resident memory, at its peak.
  const peak = { heapTotal: 0, heapUsed: 0, external: 0 };
  setInterval(() => {
    const m = Deno.memoryUsage();
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
  }, 100);
  const deps = await createServices({
    config: loadConfig(Deno.env.toObject()),
    kv,
    integrations: benchClients(tunnel(world.url), world.address, {}),
    log: silentLogger,
  });
  await deps.engine.startWorker();
  const app = createApp(deps);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/_bench/memory") return Response.json(peak);
      if (path === "/_bench/floor") return httpFloor(world.url);
      return app.fetch(req);
    },
  );
  Deno.addSignalListener("SIGTERM", async () => {
    await server.shutdown();
    await deps.engine.close();
    kv.close();
    await Deno.remove(kvDir, { recursive: true });
    Deno.exit(0);
  });
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.addr.port}` }));
}
