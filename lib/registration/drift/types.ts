/** What a drift check depends on, and the helpers its parts share; the finding kinds and the report
 * live in lib/domain/drift.ts. */
import type { Config } from "../../domain/config.ts";
import type { KeaClient } from "../../integrations/kea/api.ts";
import type { KubernetesClient } from "../../integrations/kubernetes.ts";
import type { NetboxClient } from "../../integrations/netbox.ts";
import type { OpenBaoClient, SecretVersion } from "../../integrations/openbao.ts";
import type { Logger } from "../../observability/log.ts";
import type { Registration, RegistrationStore } from "../../state/store.ts";
import type { Engine } from "../engine.ts";

export {
  DRIFT_KINDS,
  type DriftKind,
  type DriftReport,
  type DriftSystem,
  type Finding,
  type RepairResult,
} from "../../domain/drift.ts";
import type { DriftKind, Finding } from "../../domain/drift.ts";

export interface DriftDeps {
  config: Config;
  store: RegistrationStore;
  engine: Engine;
  log: Logger;
  netbox?: NetboxClient;
  openbao?: OpenBaoClient;
  kea?: KeaClient;
  kubernetes?: KubernetesClient;
}

export type Add = (
  r: Registration | null,
  kind: DriftKind,
  f: Omit<Finding, "id" | "system" | "kind" | "server"> & { server?: string },
) => void;

export type ReadSecret = (deviceName: string) => Promise<SecretVersion | null>;

/** Runs `fn` over `items`, at most `limit` at once. */
export async function pool<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export const message = (e: unknown) => e instanceof Error ? e.message : String(e);
