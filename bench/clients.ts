/**
 * The service's clients of all four integrations and the BMCs, on a given fetch. No simulator code
 * is imported here (the one import from sim/ is a type, erased before run): the service process of
 * the bench (`bench/service.ts`) loads only product code.
 */
import type { RetryPolicy } from "../lib/integrations/http.ts";
import type { Integrations } from "../lib/integrations/mod.ts";
import { createKeaClient } from "../lib/integrations/kea/api.ts";
import { createKubernetesClient } from "../lib/integrations/kubernetes.ts";
import type { Metrics } from "../lib/observability/metrics.ts";
import { createNetboxClient } from "../lib/integrations/netbox.ts";
import { createOpenBaoClient } from "../lib/integrations/openbao.ts";
import { createRedfishClient } from "../lib/integrations/redfish.ts";
import type { ServedWorld } from "../sim/serve.ts";

/** Where the simulated systems answer and the credentials a service needs for them. */
export type WorldAddress = Omit<ServedWorld, "bmcProxy">;

export interface ClientOptions {
  metrics?: Metrics;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Include the Redfish BMC check (default true), like `ONBOARDING_BMC_CHECK`. */
  bmcCheck?: boolean;
}

export function benchClients(
  fetch: typeof globalThis.fetch,
  world: WorldAddress,
  o: ClientOptions,
): Integrations {
  const common = {
    fetch,
    metrics: o.metrics,
    timeoutMs: o.timeoutMs ?? 5000,
    retry: o.retry ?? { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
  };
  return {
    netbox: createNetboxClient({ url: world.netbox, token: world.netboxToken, ...common }),
    openbao: createOpenBaoClient({
      url: world.openbao,
      roleId: world.openbaoRoleId,
      secretId: world.openbaoSecretId,
      ...common,
    }),
    kea: createKeaClient({ mode: "api", servers: world.kea, port: 8000, ...common }),
    kubernetes: createKubernetesClient({ server: world.kubernetes, ...common }),
    redfish: o.bmcCheck === false ? undefined : createRedfishClient({ ...common, scheme: "http" }),
  };
}
