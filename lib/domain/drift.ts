/** Drift's wire vocabulary, shared by the check, the drift page and `deno task drift`: the systems,
 * the finding kinds, a finding, the report and a repair's result. */
import type { StepName } from "./model.ts";

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

/** `GET /api/v1/drift`: the latest full check's summary and a page of its findings. */
export interface DriftView extends Omit<DriftReport, "findings"> {
  /** Findings per kind in the whole check. */
  kinds: Partial<Record<DriftKind, number>>;
  /** Findings in the whole check. */
  total: number;
  /** This page's findings (those that pass the filters). */
  findings: Finding[];
  /** The next page's cursor; null on the last page. */
  cursor: string | null;
}
