/**
 * One server: a failure's reason and its Retry first, then steps, warnings, created objects,
 * provisioning, audit; Decommission apart at the end, behind a confirmation.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, newer, subscribeEvents } from "../client/api.ts";
import { createdRows } from "../client/format.ts";
import { RetryForm } from "../components/retry_form.tsx";
import { CreatedObjects, StepList, TERMINAL } from "../components/registration.tsx";
import { AuditList, type Detail, Facts } from "../components/server/facts.tsx";
import { DecommissionCard, RotationCard } from "../components/server/actions.tsx";

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
  const [decommission, setDecommission] = useState("");
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
        <Facts r={r} />
        {/* Done, but created without a boot MAC: it can be added now (the form says so). */}
        {!failed && retryForm}
        <h2>{r.status === "decommissioned" ? "Steps (since undone)" : "Steps"}</h2>
        <StepList steps={Object.entries(r.steps ?? {})} />
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
            <CreatedObjects rows={created} />
          </>
        )}
        {r.audit?.length ? <AuditList audit={r.audit} /> : null}
      </section>
      {props.canDecommission && r.status === "ok" && r.bmc_ip && (
        <RotationCard id={r.id} deviceName={r.device_name} rotation={r.rotation} onDone={load} />
      )}
      {props.canDecommission && r.status !== "decommissioned" && (
        <DecommissionCard
          id={r.id}
          deviceName={r.device_name}
          onResult={(text) => {
            setDecommission(text);
            load();
          }}
        />
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
