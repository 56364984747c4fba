/** A registration as the service keeps it: what was asked, what each step did, what it made. */
import type {
  BmcSystem,
  HostNic,
  ProvisioningState,
  RegistrationStatus,
  StepName,
  StepState,
} from "./model.ts";
import { STEP_NAMES } from "./model.ts";

/** What the requester asked for; Netbox references as given (id, slug or name). Never the password. */
export interface RegistrationRequest {
  site?: string | number;
  location?: string | number;
  rack?: string | number;
  position?: number;
  device_type?: string | number;
  device_role?: string | number;
  bmc_prefix?: string | number;
  tenant?: string | number;
  bmc_ip?: string;
}

/** Netbox ids resolved during pre-flight. */
export interface ResolvedRefs {
  siteId: number;
  siteSlug: string;
  siteName?: string;
  locationId: number;
  locationName?: string;
  rackId: number;
  rackName: string;
  rackHeight: number;
  deviceTypeId: number;
  uHeight: number;
  roleId: number;
  tenantId?: number;
  prefixId?: number;
  /** CIDR of that prefix. */
  prefix?: string;
  /** A Netbox device of this name that already carries this BMC MAC (reused, not created). */
  existingDeviceId?: number;
}

/** Ids of everything the steps created, so a retry reuses them and decommission removes them. */
export interface CreatedObjects {
  netbox_device_id?: number;
  netbox_device_preexisting?: boolean;
  netbox_interface_id?: number;
  netbox_mac_id?: number | null;
  netbox_ip_id?: number;
  openbao_path?: string;
  openbao_version?: number;
  kea_subnet_id?: number;
  kea_servers?: { server: string; outcome: string; message?: string }[];
  metal3_secret?: string;
  metal3_bmh?: string;
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  detail?: string;
}

export interface Registration {
  id: string;
  device_name: string;
  status: RegistrationStatus;
  source: "register" | "import";
  bmc_mac: string;
  bmc_username: string;
  boot_mac?: string;
  bmc_ip?: string;
  request: RegistrationRequest;
  resolved?: ResolvedRefs;
  steps: Record<StepName, StepState>;
  created: CreatedObjects;
  warnings: string[];
  error?: string;
  /** Which system of a multi-system BMC (its Redfish `Id` or path), as the operator picked it. */
  bmc_system?: string;
  /** What the Redfish check found. */
  bmc?: {
    vendor: string;
    model: string;
    serial: string;
    systemId: string;
    systemPath: string;
    /** A BMC that manages several systems, until one is picked (`bmc_system`). */
    systems?: BmcSystem[];
    /** Host NICs that could boot, with their link state: the technician's choice when the BMC
     * does not say which one boots. */
    nics?: HostNic[];
    /** The boot NIC MAC discovered over Redfish ("" when ambiguous): shown as discovered, never
     * as `boot_mac` (which is what a person scanned or typed). */
    bootMac?: string;
    bootReason?: string;
  };
  provisioning?: ProvisioningState;
  /** Rotate the BMC password at registration (the request's `rotate`; default the config's). */
  rotate?: boolean;
  /** The last BMC password rotation: `running` until OpenBao, the BMC and the Secret agree. */
  rotation?: {
    status: "running" | "ok" | "failed";
    message: string;
    at: string;
    /** The OpenBao version that is current after it. */
    version?: number;
  };
  actor: string;
  created_at: string;
  updated_at: string;
  /**
   * Decommissioned, but its BareMetalHost is still being deleted (the operator's finalizer):
   * name, MAC and rack slot stay claimed until it is gone.
   */
  host_deletion?: { name: string; since: string };
  /** Claimed rack units (rack id + positions), released on decommission. */
  slot?: { rackId: number; units: number[] };
}

let lastMs = 0;
let seq = 0;

/** Time-ordered id (monotonic within this process): lists come out oldest first, reversed for newest first. */
export function newRegistrationId(): string {
  const now = Date.now();
  seq = now === lastMs ? seq + 1 : 0;
  lastMs = now;
  const rand = crypto.getRandomValues(new Uint8Array(4));
  return now.toString(36).padStart(9, "0") + seq.toString(36).padStart(3, "0") +
    Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function pendingSteps(): Record<StepName, StepState> {
  return Object.fromEntries(STEP_NAMES.map((s) => [s, { status: "pending" }])) as Record<
    StepName,
    StepState
  >;
}
