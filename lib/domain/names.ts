/** Device names (from DEVICE_NAME_TEMPLATE, Kubernetes object-name validity) and Netbox page links. */

export const DEFAULT_NAME_TEMPLATE = "{site}-{rack}u{position}";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** True when `name` is an RFC 1123 subdomain of at most 63 characters (so derived names stay valid). */
export function isKubernetesName(name: string): boolean {
  return name.length > 0 && name.length <= 63 && name.split(".").every((l) => DNS_LABEL.test(l));
}

export interface NameParts {
  site: string;
  location?: string;
  rack: string;
  position: number | string;
  tenant?: string;
}

const PLACEHOLDER = /\{(site|location|rack|position|tenant)\}/g;

/** Fills the template and lower-cases it: `{site}-{rack}u{position}` → `dcoa-rb06u31`. */
export function deviceName(parts: NameParts, template = DEFAULT_NAME_TEMPLATE): string {
  return template.replace(PLACEHOLDER, (_, key: keyof NameParts) => String(parts[key] ?? ""))
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-");
}

/** The Netbox web page of a device (the API base with or without `/api`), for links. */
export function netboxDeviceUrl(netboxUrl: string, id: number): string {
  return `${netboxUrl.replace(/\/+$/, "").replace(/\/api$/, "")}/dcim/devices/${id}/`;
}
