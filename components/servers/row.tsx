/** One row of the server list: ours links to its page, a Netbox-only device to Netbox. */

/** A reference to a Netbox object. */
interface Ref {
  id: number;
  name: string;
  slug?: string;
}

export interface Row {
  /** Our registration's id; for a Netbox device, its registration's (or null). */
  id: string | null;
  /** Absent on rows from the live events: those are always ours. */
  origin?: "ours" | "netbox";
  device_name: string;
  status: string;
  bmc_mac?: string;
  bmc_ip?: string;
  request?: { rack?: string | number; position?: number; device_role?: string | number };
  netbox?: {
    status: string | null;
    url: string | null;
    rack: Ref | null;
    position: number | null;
    role: Ref | null;
  } | null;
  provisioning?: {
    state: string;
    operationalStatus: string;
    poweredOn: boolean;
    errorMessage: string;
  };
  updated_at?: string;
}

/** `2026-12-06 23:27` in the browser's time zone: 24 h, the same everywhere. */
function shortTime(iso?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }`;
}

/** `RB06 · U12 · Server`: where it is and what it is for. */
function place(r: Row): string {
  const rack = r.netbox?.rack?.name ?? r.request?.rack;
  const position = r.netbox?.position ?? r.request?.position;
  const role = r.netbox?.role?.name ?? r.request?.device_role;
  return [rack, position != null ? `U${position}` : undefined, role]
    .filter((x) => x !== undefined && x !== "").join(" · ");
}

function RowBody({ r }: { r: Row }) {
  const netboxOnly = r.origin === "netbox";
  const details = [
    place(r),
    r.bmc_ip,
    r.provisioning
      ? `${r.provisioning.state || "registering"}${r.provisioning.poweredOn ? " · on" : ""}`
      : "",
    netboxOnly ? "" : shortTime(r.updated_at),
  ].filter(Boolean).join(" · ");
  return (
    <>
      <span>
        {r.device_name}
        <span class="sub">{details}</span>
      </span>
      <span class={`pill st-${r.status}`}>{netboxOnly ? `Netbox: ${r.status}` : r.status}</span>
    </>
  );
}

export function ServerItem({ r }: { r: Row }) {
  return (
    <li
      data-id={r.id ?? undefined}
      data-origin={r.origin ?? "ours"}
    >
      {r.id
        ? (
          <a href={`/servers/${r.id}`}>
            <RowBody r={r} />
          </a>
        )
        : r.netbox?.url
        ? (
          <a href={r.netbox.url} target="_blank" rel="noopener">
            <RowBody r={r} />
          </a>
        )
        : (
          <div class="item">
            <RowBody r={r} />
          </div>
        )}
    </li>
  );
}
