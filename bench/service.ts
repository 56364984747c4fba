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
    (req) => new URL(req.url).pathname === "/_bench/memory" ? Response.json(peak) : app.fetch(req),
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
