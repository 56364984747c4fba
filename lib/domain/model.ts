/** Registration and step states shared by the server, the events stream and the PWA. */

export const STEP_NAMES = ["netbox", "openbao", "kea", "metal3"] as const;
export type StepName = typeof STEP_NAMES[number];

/** `blocked`: the step cannot go on until a person acts (e.g. a boot MAC is needed). */
export type StepStatus = "pending" | "running" | "done" | "skipped" | "failed" | "blocked";

/** Netbox's device statuses (`DeviceStatusChoices`), as its API accepts and lists them. */
export const NETBOX_DEVICE_STATUSES: readonly string[] = [
  "offline",
  "active",
  "planned",
  "staged",
  "failed",
  "inventory",
  "decommissioning",
];

export type RegistrationStatus =
  | "queued"
  | "running"
  | "ok"
  | "failed"
  | "blocked"
  | "decommissioned";

export interface StepState {
  status: StepStatus;
  message?: string;
  startedAt?: string;
  endedAt?: string;
}

/** Live Metal3 view of a BareMetalHost, from the watch. */
export interface ProvisioningState {
  state: string;
  operationalStatus: string;
  poweredOn: boolean;
  errorMessage: string;
  updatedAt: string;
}

/** The signed-in user, set by the auth middleware. */
export interface User {
  sub: string;
  name?: string;
  groups: string[];
  admin: boolean;
}

/** A host NIC that could boot (the BMC's own MAC and internal links left out). */
export interface HostNic {
  /** The EthernetInterface's `Id`, e.g. `NIC.Integrated.1-1-1`. */
  id: string;
  /** Canonical lower-case colon form. */
  mac: string;
  /** `LinkStatus` (`LinkUp`, `LinkDown`, `NoLink`), "" when the BMC does not say. */
  link: string;
}

/** One ComputerSystem of a BMC that manages several. */
export interface BmcSystem {
  id: string;
  path: string;
  name: string;
  serial: string;
}
