/** One server: steps, warnings, created objects, provisioning, audit; Retry and Decommission. */
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, newer, subscribeEvents } from "../client/api.ts";
import { RetryForm, type RetryTarget } from "../client/retry_form.tsx";

interface Detail {
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
  warnings?: string[];
  steps: Record<string, { status: string; message?: string }>;
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

/** What each step created, in words (ids are Netbox's). */
function createdRows(c: Record<string, unknown>): [string, string][] {
  const rows: [string, string][] = [];
  const add = (label: string, value: unknown) => {
    if (value !== undefined && value !== null) rows.push([label, String(value)]);
  };
  add(
    "Netbox device",
    c.netbox_device_id === undefined
      ? undefined
      : `#${c.netbox_device_id}${c.netbox_device_preexisting ? " (existed before)" : ""}`,
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

/** A decommission's report is JSON (`{"secret": "deleted", …}`): shown as "secret deleted, …". */
function auditDetail(detail?: string): string {
  if (!detail?.startsWith("{")) return detail ?? "";
  try {
    return Object.entries(JSON.parse(detail)).map(([k, v]) => `${k} ${v}`).join(", ");
  } catch {
    return detail;
  }
}

/** The detail island; `id` comes from the URL. */
export default function ServerDetail(
  props: { id: string; canDecommission?: boolean; wasmUrl?: string; [key: string]: unknown },
) {
  const [r, setR] = useState<Detail | null>(null);
  const [error, setError] = useState("");
  const [message, setMessage] = useState("");
  const load = () =>
    api<Detail>("GET", `/api/v1/servers/${props.id}`).then((a) => {
      if (a.ok) setR((shown) => newer(shown, a.body));
      else setError(errorMessage(a));
    }).catch(() => setError("Offline: the details will load when the network returns."));
  useEffect(() =>
    subscribeEvents((e) => {
      if (e.type === "registration" && (e.registration as Detail).id === props.id) load();
      if (e.type === "step" && e.id === props.id) load();
    }, load), [props.id]);

  const act = async (method: string, path: string, confirmText?: string) => {
    if (confirmText && !confirm(confirmText)) return;
    try {
      const a = await api(method, path);
      setMessage(a.ok ? "Done" : errorMessage(a));
      load();
    } catch {
      setMessage("No network: try again when online.");
    }
  };

  if (!r) {
    return (
      <section class="card">
        <h1>Server</h1>
        <p class={error ? "error" : "hint"}>{error || "Loading…"}</p>
      </section>
    );
  }
  return (
    <section class="card" aria-labelledby="detail-title">
      <h1 id="detail-title">{r.device_name}</h1>
      <p>
        <span class={`pill st-${r.status}`} data-testid="detail-status">{r.status}</span>
      </p>
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
            <dd>{new Date(r.created_at).toLocaleString()}</dd>
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
      <h2>{r.status === "decommissioned" ? "Steps (since undone)" : "Steps"}</h2>
      <ul class="steplist">
        {Object.entries(r.steps ?? {}).map(([name, s]) => (
          <li key={name} data-step={name} data-status={s.status}>
            <span>{name}</span>
            <span class={`pill st-${s.status}`}>{s.status}</span>
            {s.message && <span class="msg">{s.message}</span>}
          </li>
        ))}
      </ul>
      {r.warnings?.length
        ? (
          <>
            <h2>Warnings</h2>
            <ul>{r.warnings.map((w) => <li key={w} class="hint">{w}</li>)}</ul>
          </>
        )
        : null}
      {r.created && Object.keys(r.created).length > 0 && (
        <>
          <h2>Created objects</h2>
          <dl class="kv">
            {createdRows(r.created).map(([k, v]) => (
              <>
                <dt key={`k${k}`}>{k}</dt>
                <dd key={`v${k}`}>{v}</dd>
              </>
            ))}
          </dl>
        </>
      )}
      {r.audit?.length
        ? (
          <>
            <h2>Audit</h2>
            <ul class="steplist">
              {r.audit.map((a, i) => (
                <li key={i}>
                  <span>{a.action}</span>
                  <span class="hint">{a.actor}</span>
                  <span class="msg">{new Date(a.at).toLocaleString()} {auditDetail(a.detail)}</span>
                </li>
              ))}
            </ul>
          </>
        )
        : null}
      {message && <p role="status" class="hint">{message}</p>}
      <RetryForm
        registration={r}
        wasmUrl={props.wasmUrl}
        onResult={(e) => {
          setMessage(e);
          load();
        }}
      />
      <div class="actions">
        {props.canDecommission && r.status !== "decommissioned" && (
          <button
            type="button"
            class="danger"
            onClick={() =>
              act(
                "DELETE",
                `/api/v1/servers/${r.id}`,
                `Decommission ${r.device_name}? This removes its BareMetalHost, Secret, DHCP reservation, stored credentials and Netbox records.`,
              )}
          >
            Decommission
          </button>
        )}
      </div>
    </section>
  );
}
