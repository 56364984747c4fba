/**
 * Drift: where Netbox, OpenBao, Kea and Metal3 no longer hold what the service created, as the
 * latest check found it (a page at a time), with one repair button per finding and one per kind.
 * "Check now" runs a check; in the demo, a button makes some drift to look at.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, subscribeEvents } from "../client/api.ts";
import type { DriftView as Report, Finding, RepairResult } from "../lib/domain/drift.ts";

/** Findings per request: the page shows more on demand. */
const PAGE = 200;

const SYSTEMS = [
  ["netbox", "Netbox"],
  ["openbao", "OpenBao"],
  ["kea", "Kea"],
  ["kubernetes", "Metal3"],
] as const;

const canRepair = (f: Finding) => Boolean(f.step && !f.unknown);

export default function Drift(props: { demo: boolean }) {
  const [report, setReport] = useState<Report | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [notes, setNotes] = useState<string[]>([]);

  /** Runs `call` with the buttons disabled; a service that cannot be reached is shown as such. */
  const busyWith = async (call: () => Promise<void>) => {
    setBusy(true);
    try {
      await call();
    } catch {
      setError("The service cannot be reached");
    } finally {
      setBusy(false);
    }
  };

  const check = () =>
    busyWith(async () => {
      const res = await api<Report>("POST", "/api/v1/drift/check", { body: {} });
      if (res.ok) {
        setReport(res.body);
        setError("");
      } else setError(errorMessage(res));
    });

  /** The latest check's first page; before any check has run, one is started. */
  const load = () =>
    busyWith(async () => {
      const res = await api<Report>("GET", `/api/v1/drift?limit=${PAGE}`);
      if (res.ok) {
        setReport(res.body);
        setError("");
      } else if (res.status === 404) {
        await check();
      } else setError(errorMessage(res));
    });

  const more = () =>
    busyWith(async () => {
      if (!report?.cursor) return;
      const res = await api<Report>(
        "GET",
        `/api/v1/drift?limit=${PAGE}&cursor=${encodeURIComponent(report.cursor)}`,
      );
      if (res.ok) setReport({ ...res.body, findings: [...report.findings, ...res.body.findings] });
      // A newer check replaced this one meanwhile: show it from its start.
      else if (res.status === 409) await load();
      else setError(errorMessage(res));
    });

  const repair = (body: { ids?: string[]; kind?: string; force?: boolean }) =>
    busyWith(async () => {
      const res = await api<{ results: RepairResult[] }>("POST", "/api/v1/drift/repair", { body });
      if (!res.ok) {
        setError(errorMessage(res));
        return;
      }
      setNotes(res.body.results.map((r) => `${r.server}: ${r.outcome} — ${r.message}`));
      setError("");
      // The repair checked again and stored that check: show it.
      const view = await api<Report>("GET", `/api/v1/drift?limit=${PAGE}`);
      if (view.ok) setReport(view.body);
    });

  const makeDrift = async () => {
    const res = await api<{ done: string[] }>("POST", "/api/v1/demo/drift", { body: {} });
    setNotes(res.ok ? res.body.done : [errorMessage(res)]);
    await check();
  };

  useEffect(() => {
    load();
    // The background check says when its findings change.
    return subscribeEvents((e) => {
      if (e.type === "drift") load();
    });
  }, []);

  const kinds = new Map<string, Finding[]>();
  for (const f of report?.findings ?? []) kinds.set(f.kind, [...(kinds.get(f.kind) ?? []), f]);
  // Every finding of the kind in the check, not only those loaded yet.
  const count = (kind: string) =>
    report?.kinds[kind as Finding["kind"]] ?? kinds.get(kind)?.length ?? 0;

  return (
    <section class="card" aria-labelledby="drift-title">
      <h1 id="drift-title">Drift</h1>
      <p class="hint">
        What the service created for each server, compared with what Netbox, OpenBao, every Kea
        server and Metal3 hold now. Objects with no record here are listed as unknown and never
        touched.
      </p>
      <div class="grid2" data-testid="drift-counts">
        {SYSTEMS.map(([key, label]) => (
          <p key={key}>
            <span class="label">{label}</span>{" "}
            <span class="value" data-system={key}>{report?.counts[key] ?? "–"}</span>
          </p>
        ))}
      </div>
      <button type="button" disabled={busy} onClick={check}>Check now</button>
      {props.demo && (
        <button type="button" disabled={busy} onClick={makeDrift} data-testid="make-drift">
          Make some drift (demo)
        </button>
      )}
      {report && (
        <p class="hint">
          {report.servers} server(s) checked at {new Date(report.checked_at).toLocaleString()}
          {report.total > report.findings.length &&
            ` · showing ${report.findings.length} of ${report.total} findings`}
        </p>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {report?.errors.map((e) => (
        <p key={e.system + e.message} class="error" role="alert">
          Could not check {e.system}: {e.message}
        </p>
      ))}
      {notes.length > 0 && (
        <ul class="hint" role="status">{notes.map((n) => <li key={n}>{n}</li>)}</ul>
      )}
      {report && !report.total && !report.errors.length && (
        <p class="hint" data-testid="no-drift">No drift: every system agrees with the records.</p>
      )}
      {[...kinds].map(([kind, list]) => (
        <div key={kind} data-kind={kind}>
          <h2>
            {kind.replaceAll("_", " ")} ({count(kind)})
          </h2>
          {list.some(canRepair) && count(kind) > 1 && (
            <button
              type="button"
              disabled={busy}
              onClick={() => repair({ kind, force: list.some((f) => f.needs_force) })}
            >
              Repair all {count(kind)}
            </button>
          )}
          <ul class="list">
            {list.map((f) => (
              <li key={f.id} data-finding={f.id}>
                <div class="drift-finding">
                  <strong>
                    {f.registration_id
                      ? <a href={`/servers/${f.registration_id}`}>{f.server}</a>
                      : f.server}
                  </strong>
                  {f.where && <span class="hint">{f.where}</span>}
                  <p>
                    <span class="label">Expected</span> {f.expected}
                  </p>
                  <p>
                    <span class="label">Found</span> {f.found}
                  </p>
                  <p class="hint">{f.repair}</p>
                  {canRepair(f) && (
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() => repair({ ids: [f.id], force: f.needs_force })}
                    >
                      {f.needs_force ? "Put it back (force)" : "Repair"}
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ul>
        </div>
      ))}
      {report?.cursor && (
        <button type="button" disabled={busy} onClick={more} data-testid="more-findings">
          Show more findings
        </button>
      )}
    </section>
  );
}
