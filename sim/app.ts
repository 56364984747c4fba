/**
 * The app on a simulated world, in-process: in-memory KV (unless given), the queue worker running.
 * The API tests (`tests/app_harness.ts`) and the bench (`bench/harness.ts`) start it this way.
 */
import type { Config } from "../lib/domain/config.ts";
import type { Integrations } from "../lib/integrations/mod.ts";
import { type Logger, silentLogger } from "../lib/observability/log.ts";
import { Metrics } from "../lib/observability/metrics.ts";
import { type AppDeps, createApp, createServices } from "../app.ts";
import type { Coordination, StateKv } from "../lib/state/store.ts";
import type { SimWorld } from "./world.ts";

export interface SimulatedApp {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  world: SimWorld;
  /** Stops the worker, the world, the Kea client and KV. */
  close(): Promise<void>;
}

export async function startSimulatedApp(options: {
  config: Config;
  world: SimWorld;
  integrations: Integrations;
  /** The state store and, for PostgreSQL, its coordination. */
  kv?: StateKv;
  coordination?: Coordination;
  log?: Logger;
  metrics?: Metrics;
  /** Start the queue worker (default true). */
  worker?: boolean;
}): Promise<SimulatedApp> {
  const { config, world, integrations } = options;
  const kv = options.kv ?? await Deno.openKv(":memory:");
  const deps = await createServices({
    config,
    kv,
    coordination: options.coordination,
    integrations,
    log: options.log ?? silentLogger,
    metrics: options.metrics ?? new Metrics(),
  });
  if (options.worker !== false) await deps.engine.startWorker();
  const app = createApp(deps);
  const close = async () => {
    await deps.engine.close();
    world.close();
    await integrations.kea?.close();
    kv.close();
  };
  return { app, deps, world, close };
}
