/** Drift's shared vocabulary: the finding kinds, the report and the dependencies of a check. */
import type { Config } from "../../domain/config.ts";
import type { StepName } from "../../domain/model.ts";
import type { KeaClient } from "../../integrations/kea/api.ts";
import type { KubernetesClient } from "../../integrations/kubernetes.ts";
import type { NetboxClient } from "../../integrations/netbox.ts";
import type { OpenBaoClient, SecretVersion } from "../../integrations/openbao.ts";
import type { Logger } from "../../observability/log.ts";
import type { Registration, RegistrationStore } from "../../state/store.ts";
import type { Engine } from "../engine.ts";

export type DriftSystem = "netbox" | "openbao" | "kea" | "kubernetes";

/** Every kind of finding, with the system it is about. */
export const DRIFT_KINDS = {
  netbox_device_missing: "netbox",
  netbox_device_changed: "netbox",
  netbox_interface_missing: "netbox",
  netbox_mac_changed: "netbox",
  netbox_ip_unassigned: "netbox",
  netbox_oob_ip_changed: "netbox",
  netbox_unknown_device: "netbox",
  openbao_secret_missing: "openbao",
  openbao_mac_changed: "openbao",
  kea_reservation_missing: "kea",
  kea_reservation_changed: "kea",
  kea_ip_taken: "kea",
  kea_unknown_reservation: "kea",
  kubernetes_host_missing: "kubernetes",
  kubernetes_host_changed: "kubernetes",
  kubernetes_secret_missing: "kubernetes",
  kubernetes_password_differs: "kubernetes",
  kubernetes_unknown_host: "kubernetes",
} as const satisfies Record<string, DriftSystem>;
export type DriftKind = keyof typeof DRIFT_KINDS;

export interface Finding {
  /** Stable across checks: kind, server and where (a Kea server, an object). */
  id: string;
  system: DriftSystem;
  kind: DriftKind;
  /** The device name, or the unknown object's name. */
  server: string;
  registration_id?: string;
  /** Which Kea server, or which object. */
  where?: string;
  expected: string;
  found: string;
  /** What the repair does, or why there is none. */
  repair: string;
  /** The step whose re-run repairs it; absent = nothing the service may do. */
  step?: StepName;
  /** A value a person changed in Netbox: repaired only with force. */
  needs_force?: boolean;
  /** An object with no record here: reported, never touched. */
  unknown?: boolean;
}

export interface DriftReport {
  checked_at: string;
  /** Registrations checked. */
  servers: number;
  findings: Finding[];
  /** Systems (or Kea servers) that could not be read: the check is incomplete. */
  errors: { system: DriftSystem; message: string }[];
  /** Findings per system. */
  counts: Record<DriftSystem, number>;
}

export interface RepairResult {
  id: string;
  kind: DriftKind;
  server: string;
  outcome: "repaired" | "skipped" | "failed";
  message: string;
}

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
