/**
 * The demo's composition root (`deno task demo`): the simulated world behind the same clients and
 * app as production, with a real Kea when one is installed (see `sim/world.ts`).
 */
import { checkPortFree, serve } from "./app.ts";
import { loadConfig } from "./lib/domain/config.ts";
import { createLogger, prettyLine } from "./lib/observability/log.ts";
import { Metrics } from "./lib/observability/metrics.ts";
import { demoIntegrations, makeDemoDrift } from "./sim/world.ts";

if (import.meta.main) {
  try {
    const env = Deno.env.toObject();
    const loaded = loadConfig(env);
    // Before anything (the demo's Kea) is started.
    if (loaded.PORT !== 0) checkPortFree(loaded.HOSTNAME, loaded.PORT, "demo");
    // A person watches the demo's console; a demo piped to a file gets JSON lines.
    const pretty = Deno.stdout.isTerminal();
    const log = createLogger({
      level: loaded.LOG_LEVEL,
      ...(pretty ? { write: (line: string) => console.log(prettyLine(line)) } : {}),
    });
    const metrics = new Metrics();
    // Kea is real when installed: it must be stopped with the demo, however the process ends.
    const sim = await demoIntegrations(metrics, { env, log });
    sim.closeOnExit();
    const keaDbUrl = sim.realKea?.dbUrl;
    // The simulated Netbox is seeded with this BMC prefix.
    // The background drift check is off unless asked for: the Drift page checks when opened
    // while no check is stored.
    const config = {
      ...loaded,
      BMC_PREFIX: loaded.BMC_PREFIX ?? "10.16.28.0/24",
      DRIFT_INTERVAL: env.ONBOARDING_DRIFT_INTERVAL ? loaded.DRIFT_INTERVAL : 0,
    };
    await serve({
      config,
      log,
      metrics,
      integrations: sim.integrations,
      kvPath: env.ONBOARDING_KV_PATH ? config.KV_PATH : ":memory:",
      demo: sim.description,
      makeDrift: () => makeDemoDrift(sim, config.METAL3_NAMESPACE),
      // Kept out of the log (which scrubs passwords): the demo database is throwaway.
      demoNote: keaDbUrl
        ? `  Kea's host database: ${keaDbUrl}\n  Try: deno task migrate-kea --db '${keaDbUrl}' ` +
          `--dry-run tests/testdata/kea/bmc-reservations.json\n`
        : undefined,
      onStopped: sim.close,
    });
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
