/** How the PWA writes times and created objects for people. */
import { netboxDeviceUrl } from "../lib/domain/names.ts";

/** `2026-12-06 23:27` in the phone's time zone: 24 h, year first, the same in every locale. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }`;
}

/** One created object: what it is, its technical name, and a link when it has a web page. */
export interface CreatedRow {
  label: string;
  value: string;
  href?: string;
}

/** What each step created (ids are Netbox's), for the Details disclosure. */
export function createdRows(c: Record<string, unknown>, netboxUrl?: string): CreatedRow[] {
  const rows: CreatedRow[] = [];
  const add = (label: string, value: unknown, href?: string) => {
    if (value !== undefined && value !== null && value !== "") {
      rows.push({ label, value: String(value), ...(href ? { href } : {}) });
    }
  };
  const deviceId = c.netbox_device_id as number | undefined;
  add(
    "Netbox device",
    deviceId === undefined
      ? undefined
      : `#${deviceId}${c.netbox_device_preexisting ? " (existed before)" : ""}`,
    deviceId !== undefined && netboxUrl ? netboxDeviceUrl(netboxUrl, deviceId) : undefined,
  );
  add("Netbox interface", c.netbox_interface_id && `#${c.netbox_interface_id}`);
  add("Netbox MAC", c.netbox_mac_id && `#${c.netbox_mac_id}`);
  add("Netbox IP", c.netbox_ip_id && `#${c.netbox_ip_id}`);
  add(
    "OpenBao secret",
    c.openbao_path && `${c.openbao_path} (version ${c.openbao_version ?? "?"})`,
  );
  const kea = c.kea_servers as { server: string; outcome: string }[] | undefined;
  add(
    "Kea reservation",
    c.kea_subnet_id === undefined
      ? undefined
      : `subnet ${c.kea_subnet_id}${
        kea?.length ? `: ${kea.map((k) => `${k.server} ${k.outcome}`).join(", ")}` : ""
      }`,
  );
  add("Metal3 Secret", c.metal3_secret);
  add("BareMetalHost", c.metal3_bmh);
  return rows;
}
