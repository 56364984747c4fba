/** Production composition root: environment → config → clients → `serve` (see `app.ts`). */
import { checkPortFree, serve } from "./app.ts";
import { loadConfig } from "./lib/domain/config.ts";
import { createIntegrations } from "./lib/integrations/mod.ts";
import { createLogger } from "./lib/observability/log.ts";
import { Metrics } from "./lib/observability/metrics.ts";

if (import.meta.main) {
  try {
    const env = Deno.env.toObject();
    const config = loadConfig(env);
    if (config.PORT !== 0) checkPortFree(config.HOSTNAME, config.PORT, "start");
    const log = createLogger({ level: config.LOG_LEVEL });
    const metrics = new Metrics();
    const integrations = await createIntegrations(config, env, metrics);
    await serve({ config, log, metrics, integrations, kvPath: config.KV_PATH });
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
