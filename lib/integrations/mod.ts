/** Builds the integration clients from the configuration; absent settings mean "not configured". */
import type { Config } from "../domain/config.ts";
import { createKeaClient, type KeaClient } from "./kea/api.ts";
import {
  createKubernetesClient,
  type KubernetesClient,
  kubernetesSettingsFromEnv,
} from "./kubernetes.ts";
import type { Metrics } from "../observability/metrics.ts";
import { createNetboxClient, type NetboxClient } from "./netbox.ts";
import { createOpenBaoClient, type OpenBaoClient } from "./openbao.ts";
import { createRedfishClient, type RedfishClient } from "./redfish.ts";

export interface Integrations {
  netbox?: NetboxClient;
  openbao?: OpenBaoClient;
  kea?: KeaClient;
  kubernetes?: KubernetesClient;
  /** The optional BMC check; absent disables it. */
  redfish?: RedfishClient;
}

/** One client per configured integration, each with its own timeout and retry policy. */
export async function createIntegrations(
  config: Config,
  env: Record<string, string | undefined>,
  metrics: Metrics,
): Promise<Integrations> {
  const out: Integrations = {};
  if (config.NETBOX_URL && config.NETBOX_TOKEN) {
    out.netbox = createNetboxClient({
      url: config.NETBOX_URL,
      token: config.NETBOX_TOKEN,
      metrics,
    });
  }
  if (config.OPENBAO_URL && config.OPENBAO_ROLE_ID) {
    out.openbao = createOpenBaoClient({
      url: config.OPENBAO_URL,
      roleId: config.OPENBAO_ROLE_ID,
      secretId: config.OPENBAO_SECRET_ID,
      mountPoint: config.OPENBAO_MOUNT_POINT,
      metrics,
    });
  }
  if (config.KEA_SERVERS.length || config.KEA_DB_URL) {
    out.kea = createKeaClient({
      mode: config.KEA_MODE,
      servers: config.KEA_SERVERS,
      port: config.KEA_PORT,
      subnetId: config.KEA_SUBNET_ID,
      dbUrl: config.KEA_DB_URL,
      metrics,
    });
  }
  const kube = await kubernetesSettingsFromEnv(env);
  if (kube) out.kubernetes = createKubernetesClient({ ...kube, metrics });
  if (config.BMC_CHECK) out.redfish = createRedfishClient({ metrics });
  return out;
}
