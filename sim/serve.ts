/**
 * The simulated world as its own process on loopback ports, for the bench (service cost apart
 * from the simulators) and tests running several service processes against one world.
 *
 *   deno run --allow-net --allow-read --allow-env sim/serve.ts [--provisioning-step-ms=N]
 *
 * Prints one JSON line with each simulator's URL and the credentials a service needs, then serves
 * until SIGTERM/SIGINT. The BMCs answer behind `bmcProxy`: a service reaches them with
 * `HTTP_PROXY=<bmcProxy>` (and `NO_PROXY=127.0.0.1`), as they keep their 10.x addresses; an
 * unknown BMC address answers as a new server whose password is the first one tried.
 */
import type { Handler } from "./faults.ts";
import { createSimulatedWorld, type SimWorld } from "./world.ts";

export interface ServedWorld {
  netbox: string;
  netboxToken: string;
  openbao: string;
  openbaoRoleId: string;
  openbaoSecretId: string;
  kea: string[];
  kubernetes: string;
  bmcProxy: string;
}

/** Serves each simulator of `world` on its own port of 127.0.0.1 (`port: 0` picks free ones). */
export function serveWorld(
  world: SimWorld,
  signal?: AbortSignal,
): { urls: ServedWorld; finished: Promise<void> } {
  const servers: Deno.HttpServer[] = [];
  const listen = (handler: Handler): string => {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal, onListen: () => {} },
      (req) => handler(req),
    );
    servers.push(server);
    return `http://127.0.0.1:${server.addr.port}`;
  };
  // A proxied request arrives in absolute form: its URL names the BMC's own address.
  const urls: ServedWorld = {
    netbox: listen(world.netbox.handler),
    netboxToken: world.netbox.token,
    openbao: listen(world.openbao.handler),
    openbaoRoleId: world.openbao.roleId,
    openbaoSecretId: world.openbao.secretId,
    kea: world.kea.map((k) => listen(k.handler)),
    kubernetes: listen(world.kubernetes.handler),
    bmcProxy: listen(world.bmcs.handler),
  };
  return { urls, finished: Promise.all(servers.map((s) => s.finished)).then(() => {}) };
}

if (import.meta.main) {
  const step = Deno.args.find((a) => a.startsWith("--provisioning-step-ms="));
  const world = createSimulatedWorld({
    autoBmcs: true,
    provisioningStepMs: step ? Number(step.split("=")[1]) : undefined,
  });
  const stop = new AbortController();
  const { urls, finished } = serveWorld(world, stop.signal);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => stop.abort());
  }
  console.log(JSON.stringify(urls));
  await finished;
  world.close();
}
