/**
 * One server: a failure's reason and its Retry first, then steps, warnings, created objects,
 * provisioning, audit; Decommission apart at the end, behind a confirmation.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, newer, subscribeEvents } from "../client/api.ts";
import { createdRows, formatTime } from "../client/format.ts";
import { RetryForm, type RetryTarget } from "../components/retry_form.tsx";

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
  /** The last BMC password rotation (never the password). */
  rotation?: { status: string; message: string; at: string };
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

/** A decommission's report is JSON (`{"secret": "deleted", …}`): shown as "secret deleted, …". */
function auditDetail(detail?: string): string {
  if (!detail?.startsWith("{")) return detail ?? "";
  try {
    return Object.entries(JSON.parse(detail)).map(([k, v]) => `${k} ${v}`).join(", ");
  } catch {
    return detail;
  }
}

const TERMINAL = new Set(["ok", "failed", "blocked", "decommissioned"]);

/** The detail island; `id` comes from the URL. */
export default function ServerDetail(
  props: {
    id: string;
    canDecommission?: boolean;
    wasmUrl?: string;
    netboxUrl?: string;
    [key: string]: unknown;
  },
) {
  const [r, setR] = useState<Detail | null>(null);
  const [error, setError] = useState("");
  // The last Retry: running (since the record's `updated_at` when it was pressed), then its result.
  const [retry, setRetry] = useState<
    { state: "running" | "done" | "error"; text: string; since?: string } | null
  >(null);
  const [confirming, setConfirming] = useState(false);
  const [decommission, setDecommission] = useState("");
  const [rotating, setRotating] = useState<"confirm" | "running" | "">("");
  const [rotation, setRotation] = useState("");
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

  // A retried run that has ended says how it went, where the Retry was.
  useEffect(() => {
    if (retry?.state !== "running" || !r || !TERMINAL.has(r.status)) return;
    if (r.updated_at === retry.since) return; // still the snapshot from before the Retry
    setRetry(
      r.status === "ok"
        ? { state: "done", text: "Retried: all steps done" }
        : { state: "error", text: `Retried: ${failureOf(r)}` },
    );
  }, [r?.status, r?.updated_at]);

  const decommissionNow = async () => {
    setConfirming(false);
    try {
      const a = await api("DELETE", `/api/v1/servers/${props.id}`);
      setDecommission(a.ok ? "Decommissioned" : errorMessage(a));
      load();
    } catch {
      setDecommission("No network: try again when online.");
    }
  };

  const rotateNow = async () => {
    setRotating("running");
    try {
      const a = await api("POST", `/api/v1/servers/${props.id}/rotate-credentials`);
      setRotation(a.ok ? "BMC password replaced" : errorMessage(a));
      load();
    } catch {
      setRotation("No network: try again when online.");
    }
    setRotating("");
  };

  if (!r) {
    return (
      <section class="card">
        <h1>Server</h1>
        <p class={error ? "error" : "hint"}>{error || "Loading…"}</p>
      </section>
    );
  }
  const failed = r.status === "failed" || r.status === "blocked";
  const created = r.created ? createdRows(r.created, props.netboxUrl) : [];
  const retryForm = (
    <RetryForm
      registration={r}
      wasmUrl={props.wasmUrl}
      onResult={(e) => {
        setRetry(
          e ? { state: "error", text: e } : { state: "running", text: "", since: r.updated_at },
        );
        load();
      }}
    />
  );
  return (
    <>
      <section class="card" aria-labelledby="detail-title">
        <h1 id="detail-title">{r.device_name}</h1>
        <p>
          <span class={`pill st-${r.status}`} data-testid="detail-status">{r.status}</span>
        </p>
        {(failed || retry) && (
          <div class={failed ? "failure" : ""} data-testid="failure">
            {failed && retry?.state !== "error" && <p class="error" role="alert">{failureOf(r)}</p>}
            {retry && (
              <p
                class={retry.state === "error" ? "error" : "hint"}
                role="status"
                data-testid="retry-result"
              >
                {retry.state === "running" ? "Retrying…" : retry.text}
              </p>
            )}
            {failed && retryForm}
          </div>
        )}
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
          {r.boot_mac
            ? <dd>{r.boot_mac}</dd>
            : r.bmc?.bootMac
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
                {r.provisioning.state || "—"} · {r.provisioning.operationalStatus || "—"} · power
                {" "}
                {r.provisioning.poweredOn ? "on" : "off"}
                {r.provisioning.errorMessage && (
                  <span class="error">{r.provisioning.errorMessage}</span>
                )}
              </dd>
            </>
          )}
        </dl>
        {/* Done, but created without a boot MAC: it can be added now (the form says so). */}
        {!failed && retryForm}
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
        {created.length > 0 && (
          <>
            <h2>Created objects</h2>
            <dl class="kv">
              {created.map((c) => (
                <>
                  <dt key={`k${c.label}`}>{c.label}</dt>
                  <dd key={`v${c.label}`}>
                    {c.href ? <a class="button" href={c.href}>{c.value}</a> : c.value}
                  </dd>
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
                    <span class="msg">{formatTime(a.at)} {auditDetail(a.detail)}</span>
                  </li>
                ))}
              </ul>
            </>
          )
          : null}
      </section>
      {props.canDecommission && r.status === "ok" && r.bmc_ip && (
        <section class="card" aria-labelledby="rotation-title">
          <h2 id="rotation-title">BMC password</h2>
          <p class="hint">
            Replaces it with a generated one; OpenBao and the Metal3 Secret get the new password.
          </p>
          {r.rotation && (
            <p class="hint" data-testid="rotation">
              Last rotation ({formatTime(r.rotation.at)}): {r.rotation.message}
            </p>
          )}
          <div class="actions" role="group" aria-label="Rotate the BMC password">
            {rotating === "confirm"
              ? (
                <>
                  <button
                    type="button"
                    onClick={() => setRotating("")}
                  >
                    Cancel
                  </button>
                  <button type="button" onClick={rotateNow}>
                    Rotate the password of {r.device_name}
                  </button>
                </>
              )
              : (
                <button
                  type="button"
                  disabled={rotating === "running"}
                  onClick={() => setRotating("confirm")}
                >
                  {rotating === "running" ? "Rotating…" : "Rotate BMC password…"}
                </button>
              )}
          </div>
          {rotation && <p role="status" class="hint" data-testid="rotation-result">{rotation}</p>}
        </section>
      )}
      {props.canDecommission && r.status !== "decommissioned" && (
        <section class="card danger-zone" aria-labelledby="decommission-title">
          <h2 id="decommission-title">Decommission</h2>
          <p class="hint">
            Removes its BareMetalHost, Secret, DHCP reservation, stored credentials and Netbox
            records.
          </p>
          {confirming
            ? (
              <div class="actions" role="group" aria-label="Confirm decommission">
                <button
                  type="button"
                  onClick={() => setConfirming(false)}
                >
                  Cancel
                </button>
                <button type="button" class="danger" onClick={decommissionNow}>
                  Decommission {r.device_name}
                </button>
              </div>
            )
            : (
              <div class="actions">
                <button
                  type="button"
                  class="danger"
                  onClick={() => setConfirming(true)}
                >
                  Decommission…
                </button>
              </div>
            )}
        </section>
      )}
      {decommission && (
        <p role="status" class="hint" data-testid="decommission-result">{decommission}</p>
      )}
    </>
  );
}

/** Why a registration stopped: its failed step's message, else its error. */
function failureOf(r: Detail): string {
  const step = Object.values(r.steps ?? {}).find((s) =>
    s.status === "failed" || s.status === "blocked"
  );
  return step?.message ?? r.error ?? `The registration is ${r.status}`;
}
