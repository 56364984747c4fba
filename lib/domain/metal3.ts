/** Metal3 objects the service owns: the BMC credentials Secret and the BareMetalHost, built as
 * server-side-apply intents (only the fields we own), plus the BMC address URL per driver. */

/** Our server-side-apply field manager; also the value of `app.kubernetes.io/managed-by`. */
export const FIELD_MANAGER = "bare-metal-onboarding";

export const BMH_API_VERSION = "metal3.io/v1alpha1";

/** Label keys we put on our objects (our own prefix: metal3.io belongs to the Metal3 project). */
export const LABEL_SITE = "bare-metal-onboarding/site";
export const LABEL_LOCATION = "bare-metal-onboarding/location";
export const LABEL_RACK = "bare-metal-onboarding/rack";
export const LABEL_NETBOX_DEVICE_ID = "bare-metal-onboarding/netbox-device-id";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
/** The registration an object was applied for: only that registration may change it again. */
export const ANNOTATION_REGISTRATION_ID = "bare-metal-onboarding/registration-id";
/** The label the Metal3 operator uses to cache BMC Secrets; pre-labelling saves it a read. */
export const LABEL_METAL3_ENVIRONMENT = "environment.metal3.io";

/** Selects every BareMetalHost this service created (for the watch). */
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${FIELD_MANAGER}`;

/**
 * Drivers whose hosts need `bootMACAddress`: only libvirt (the operator's `NeedsMAC()`, SPEC §6.2).
 * For every other driver it is optional: inspection finds the NICs.
 */
export const DRIVERS_NEEDING_BOOT_MAC: readonly string[] = ["libvirt"];

/** Drivers that take a Redfish system path in the address (and accept `+http`/`+https`). */
const REDFISH_DRIVERS = new Set([
  "redfish",
  "redfish-virtualmedia",
  "redfish-uefihttp",
  "idrac-redfish",
  "idrac-virtualmedia",
  "ilo5-redfish",
  "ilo5-virtualmedia",
]);
const IPMI_DRIVERS = new Set(["ipmi", "libvirt"]);
/** Every BMC driver the operator knows (its admission webhook refuses any other). */
export const BMC_DRIVERS: ReadonlySet<string> = new Set([...IPMI_DRIVERS, ...REDFISH_DRIVERS]);
/** Schemes the current operator no longer accepts (reference D.2). */
const REMOVED_DRIVERS = new Set(["ibmc", "idrac", "ilo4", "ilo4-virtualmedia", "ilo5", "irmc"]);
/** Dell iDRAC always exposes its one system under this path. */
const DELL_SYSTEM_PATH = "/redfish/v1/Systems/System.Embedded.1";

/** The driver name without a `+http`/`+https` transport suffix. */
function baseDriver(driver: string): string {
  return driver.replace(/\+https?$/, "");
}

/** True when the operator refuses a host of this driver without a boot NIC MAC. */
export function needsBootMac(driver: string): boolean {
  return DRIVERS_NEEDING_BOOT_MAC.includes(baseDriver(driver));
}

/**
 * `bmc.address` for the driver: `ipmi://10.16.28.31`, `redfish://10.16.28.31/redfish/v1/Systems/1`
 * (the system path when known), `idrac-virtualmedia://10.16.28.31/redfish/v1/Systems/System.Embedded.1`.
 */
export function bmcAddress(driver: string, ip: string, systemPath?: string): string {
  const base = baseDriver(driver);
  if (REMOVED_DRIVERS.has(base)) {
    throw new RangeError(`The ${base} BMC driver was removed from Metal3; use a redfish driver`);
  }
  const host = ip.includes(":") && !ip.startsWith("[") ? `[${ip}]` : ip;
  if (IPMI_DRIVERS.has(base)) {
    if (driver !== base) throw new RangeError(`The ${base} driver takes no +http/+https suffix`);
    return `${driver}://${host}`;
  }
  if (!REDFISH_DRIVERS.has(base)) throw new RangeError(`Unknown BMC driver "${driver}"`);
  let path = systemPath?.trim() ?? "";
  if (!path && base.startsWith("idrac-")) path = DELL_SYSTEM_PATH;
  if (path && !path.startsWith("/")) path = `/${path}`;
  return `${driver}://${host}${path}`;
}

/** Kubernetes object metadata (the parts we read or write). */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
  managedFields?: {
    manager: string;
    operation: "Apply" | "Update";
    apiVersion: string;
    time?: string;
    fieldsType: "FieldsV1";
    fieldsV1: Record<string, unknown>;
    subresource?: string;
  }[];
}

/** A core/v1 Secret. The API returns `data` (base64); `stringData` is write-only. */
export interface SecretObject {
  apiVersion: "v1";
  kind: "Secret";
  metadata: ObjectMeta;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  immutable?: boolean;
}

export interface BareMetalHostSpec {
  online: boolean;
  bmc?: { address: string; credentialsName: string; disableCertificateVerification?: boolean };
  bootMACAddress?: string;
  automatedCleaningMode?: "metadata" | "disabled";
  bootMode?: "UEFI" | "UEFISecureBoot" | "legacy";
  externallyProvisioned?: boolean;
  description?: string;
  image?: { url: string; checksum?: string; checksumType?: string; format?: string };
  consumerRef?: Record<string, string>;
  [field: string]: unknown;
}

export interface BareMetalHostStatus {
  operationalStatus?: "" | "OK" | "discovered" | "error" | "delayed" | "detached" | "servicing";
  errorType?: string;
  errorMessage?: string;
  errorCount?: number;
  poweredOn?: boolean;
  lastUpdated?: string;
  provisioning?: { state: string; ID: string; [field: string]: unknown };
  goodCredentials?: {
    credentials?: { name: string; namespace: string };
    credentialsVersion?: string;
  };
  [field: string]: unknown;
}

/** A metal3.io/v1alpha1 BareMetalHost. */
export interface BareMetalHostObject {
  apiVersion: typeof BMH_API_VERSION;
  kind: "BareMetalHost";
  metadata: ObjectMeta;
  spec: BareMetalHostSpec;
  status?: BareMetalHostStatus;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * Makes any string a valid label value: at most 63 characters of `[A-Za-z0-9._-]`, starting and
 * ending alphanumeric (`DC OA/B` → `DC-OA-B`). May return "" (a valid, empty value).
 */
export function labelValue(value: string | number): string {
  const s = String(value);
  if (LABEL_VALUE.test(s) && s.length <= 63) return s;
  return s.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 63)
    .replace(/[^A-Za-z0-9]+$/, "");
}

function sanitiseLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) out[k] = labelValue(v);
  return out;
}

/** Our labels for a host's place: site, location, rack and Netbox device id (absent ones left out). */
export function hostLabels(input: {
  site?: string;
  location?: string;
  rack?: string;
  netboxDeviceId?: number | string;
}): Record<string, string> {
  const out: Record<string, string> = {};
  if (input.site) out[LABEL_SITE] = labelValue(input.site);
  if (input.location) out[LABEL_LOCATION] = labelValue(input.location);
  if (input.rack) out[LABEL_RACK] = labelValue(input.rack);
  if (input.netboxDeviceId !== undefined && input.netboxDeviceId !== "") {
    out[LABEL_NETBOX_DEVICE_ID] = labelValue(input.netboxDeviceId);
  }
  return out;
}

/** Name of the BMC credentials Secret for a device: `{device_name}-bmc-secret`. */
export function bmcSecretName(deviceName: string): string {
  return `${deviceName}-bmc-secret`;
}

/** The BMC credentials Secret (type Opaque, `stringData` username/password, labelled for Metal3). */
export function bmcSecret(input: {
  name: string;
  namespace: string;
  username: string;
  password: string;
  labels?: Record<string, string>;
  registrationId?: string;
}): SecretObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: input.name,
      namespace: input.namespace,
      ...(input.registrationId
        ? { annotations: { [ANNOTATION_REGISTRATION_ID]: input.registrationId } }
        : {}),
      labels: {
        ...sanitiseLabels(input.labels),
        [LABEL_MANAGED_BY]: FIELD_MANAGER,
        [LABEL_METAL3_ENVIRONMENT]: "baremetal",
      },
    },
    type: "Opaque",
    stringData: { username: input.username, password: input.password },
  };
}

/**
 * The BareMetalHost intent: registered but powered off (`online: false`) and never wiped
 * automatically (`automatedCleaningMode: disabled`); `bootMACAddress` only when given.
 */
export function bareMetalHost(input: {
  name: string;
  namespace: string;
  bmcAddress: string;
  credentialsName: string;
  bootMac?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  registrationId?: string;
  /** For self-signed BMC certificates (Redfish drivers). */
  disableCertificateVerification?: boolean;
}): BareMetalHostObject {
  const spec: BareMetalHostSpec = {
    online: false,
    bmc: {
      address: input.bmcAddress,
      credentialsName: input.credentialsName,
      ...(input.disableCertificateVerification ? { disableCertificateVerification: true } : {}),
    },
    automatedCleaningMode: "disabled",
  };
  if (input.bootMac) spec.bootMACAddress = input.bootMac.toLowerCase();
  const metadata: ObjectMeta = {
    name: input.name,
    namespace: input.namespace,
    labels: { ...sanitiseLabels(input.labels), [LABEL_MANAGED_BY]: FIELD_MANAGER },
  };
  const annotations = {
    ...input.annotations,
    ...(input.registrationId ? { [ANNOTATION_REGISTRATION_ID]: input.registrationId } : {}),
  };
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  return { apiVersion: BMH_API_VERSION, kind: "BareMetalHost", metadata, spec };
}

/**
 * Why an existing Secret or BareMetalHost is not this registration's, naming its owner; null when
 * it is ours: our `managed-by` label, our field manager, and this registration's id annotation.
 * An object we applied before the annotation existed counts as ours when the registration
 * recorded it (`recorded`); the next apply adds the annotation.
 */
export function foreignOwner(
  object: { kind?: string; metadata: ObjectMeta },
  registration: { id: string; recorded: boolean },
): string | null {
  const meta = object.metadata;
  const label = meta.labels?.[LABEL_MANAGED_BY];
  const annotation = meta.annotations?.[ANNOTATION_REGISTRATION_ID];
  const managers = [...new Set((meta.managedFields ?? []).map((m) => m.manager))];
  const ours = label === FIELD_MANAGER &&
    (!meta.managedFields || managers.includes(FIELD_MANAGER)) &&
    (annotation === registration.id || (annotation === undefined && registration.recorded));
  if (ours) return null;
  const owner = [
    `field managers ${managers.join(", ") || "none"}`,
    `label ${LABEL_MANAGED_BY}=${label ?? "(none)"}`,
    ...(annotation ? [`registration ${annotation}`] : []),
  ];
  return `${object.kind ?? "Object"} ${meta.namespace}/${meta.name} exists and is not this ` +
    `registration's (${owner.join("; ")})`;
}

/** What the server list shows of a host's provisioning, from its status. */
export interface BareMetalHostStatusView {
  state: string;
  operationalStatus: string;
  poweredOn: boolean;
  errorMessage: string;
}

/** The provisioning view of a BareMetalHost; empty values while the operator has not reported. */
export function statusView(bmh: Pick<BareMetalHostObject, "status">): BareMetalHostStatusView {
  const s = bmh.status;
  return {
    state: s?.provisioning?.state ?? "",
    operationalStatus: s?.operationalStatus ?? "",
    poweredOn: s?.poweredOn ?? false,
    errorMessage: s?.errorMessage ?? "",
  };
}
