/** What the server page shows of a registration besides its steps: facts and audit trail. */
import { formatTime } from "../../client/format.ts";
import type { RetryTarget } from "../retry_form.tsx";
import type { StepView } from "../registration.tsx";

/** A registration as `GET /api/v1/servers/:id` returns it. */
export interface Detail {
  id: string;
  device_name: string;
  status: string;
  bmc_mac: string;
  bmc_ip?: string;
  boot_mac?: string;
  bmc_system?: string;
  bmc?: RetryTarget["bmc"] & {
    vendor?: string;
    model?: string;
    serial?: string;
    systemPath?: string;
    bootReason?: string;
  };
  error?: string;
  /** The last BMC password rotation (never the password). */
  rotation?: { status: string; message: string; at: string };
  warnings?: string[];
  steps: Record<string, StepView>;
  created?: Record<string, unknown>;
  provisioning?: {
    state: string;
    operationalStatus: string;
    poweredOn: boolean;
    errorMessage: string;
  };
  request?: Record<string, unknown>;
  resolved?: { siteSlug?: string; siteName?: string; locationName?: string; rackName?: string };
  audit?: { at: string; actor: string; action: string; detail?: string }[];
  created_at?: string;
  updated_at?: string;
}

/** Location, MACs, BMC, creation time and provisioning state. */
export function Facts({ r }: { r: Detail }) {
  return (
    <dl class="kv">
      {(r.resolved?.rackName || r.request?.rack !== undefined) && (
        <>
          <dt>Location</dt>
          <dd>
            {[
              r.resolved?.siteName ?? r.resolved?.siteSlug ?? r.request?.site,
              r.resolved?.locationName ?? r.request?.location,
              `rack ${r.resolved?.rackName ?? r.request?.rack}`,
              `U${r.request?.position}`,
            ].filter((v) => v !== undefined).join(" · ")}
          </dd>
        </>
      )}
      <dt>BMC MAC</dt>
      <dd>{r.bmc_mac}</dd>
      <dt>BMC IP</dt>
      <dd>{r.bmc_ip ?? "—"}</dd>
      <dt>Boot MAC</dt>
      {r.boot_mac ? <dd>{r.boot_mac}</dd> : r.bmc?.bootMac
        ? (
          <dd data-testid="boot-mac-discovered">
            {r.bmc.bootMac}{" "}
            <span class="hint">discovered over Redfish, not scanned: {r.bmc.bootReason}</span>
          </dd>
        )
        : <dd>— (none: Metal3's inspection finds the NICs)</dd>}
      {r.bmc?.vendor && (
        <>
          <dt>BMC</dt>
          <dd>
            {[
              r.bmc.vendor,
              r.bmc.model,
              r.bmc.serial && `serial ${r.bmc.serial}`,
              r.bmc.systemPath,
            ]
              .filter(Boolean).join(" · ")}
          </dd>
        </>
      )}
      {r.created_at && (
        <>
          <dt>Created</dt>
          <dd>{formatTime(r.created_at)}</dd>
        </>
      )}
      {r.provisioning && (
        <>
          <dt>Provisioning</dt>
          <dd>
            {r.provisioning.state || "—"} · {r.provisioning.operationalStatus || "—"} · power{" "}
            {r.provisioning.poweredOn ? "on" : "off"}
            {r.provisioning.errorMessage && (
              <span class="error">{r.provisioning.errorMessage}</span>
            )}
          </dd>
        </>
      )}
    </dl>
  );
}

/** A decommission's report is JSON (`{"secret": "deleted", …}`): shown as "secret deleted, …". */
function auditDetail(detail?: string): string {
  if (!detail?.startsWith("{")) return detail ?? "";
  try {
    return Object.entries(JSON.parse(detail)).map(([k, v]) => `${k} ${v}`).join(", ");
  } catch {
    return detail;
  }
}

/** Who did what, when. */
export function AuditList({ audit }: { audit: NonNullable<Detail["audit"]> }) {
  return (
    <>
      <h2>Audit</h2>
      <ul class="steplist">
        {audit.map((a, i) => (
          <li key={i}>
            <span>{a.action}</span>
            <span class="hint">{a.actor}</span>
            <span class="msg">{formatTime(a.at)} {auditDetail(a.detail)}</span>
          </li>
        ))}
      </ul>
    </>
  );
}
