/**
 * Import: JSON (upload or paste), or a YAML device list + Kea reservations merged in the browser
 * with the same code as `deno task merge-import`; per-row validation, then the API's pre-flight
 * (nothing written) so "ready" means ready; live per-server progress.
 */
import { useState } from "preact/hooks";
import { api, errorMessage, socketUrl } from "../client/api.ts";

type Schemas = typeof import("../lib/domain/schemas.ts");
type Merge = typeof import("../lib/domain/merge_import.ts");

// Loaded on demand, each in its own chunk, so the page itself stays small: the validation (zod
// and the import-item schema) from the first focus in the panel, the YAML parser and the Kea
// merge only on the YAML + Kea path. A failed load is forgotten, so Preview can try again.
let schemas: Promise<Schemas> | null = null;
let merge: Promise<Merge> | null = null;
function loadSchemas(): Promise<Schemas> {
  return schemas ??= import("../lib/domain/schemas.ts").catch((e) => {
    schemas = null;
    throw e;
  });
}
function loadMerge(): Promise<Merge> {
  return merge ??= import("../lib/domain/merge_import.ts").catch((e) => {
    merge = null;
    throw e;
  });
}
/** Starts a load early (on intent); Preview awaits the same promise and reports failures. */
function prefetch(load: () => Promise<unknown>): void {
  load().catch(() => {});
}

interface Row {
  index: number;
  device_name: string;
  valid: boolean;
  errors: Record<string, string>;
  /** Why the API's pre-flight refuses the row (a conflict in Netbox or Kea, a full unit). */
  refused?: string;
  item: unknown;
  status?: string;
  steps?: Record<string, string>;
  message?: string;
}

/** Row state for people: a row never sent to the import is "not started", whatever the reason. */
function stateOf(r: Row, started: boolean): { pill: string; label: string; detail?: string } {
  if (r.status) {
    const steps = Object.entries(r.steps ?? {});
    const none = steps.length > 0 && steps.every(([, v]) => v === "pending");
    return {
      pill: r.status,
      label: r.status,
      detail: none ? "not started" : steps.map(([k, v]) => `${k} ${v}`).join(" · ") || undefined,
    };
  }
  if (!r.valid) {
    return {
      pill: "failed",
      label: r.refused ? "refused" : "invalid",
      detail: started ? "not started" : undefined,
    };
  }
  return { pill: "pending", label: started ? "waiting" : "ready" };
}

/**
 * The API's pre-flight for the valid rows (`POST /servers/import?dry_run=true`, nothing written);
 * a refused row is no longer valid. Returns a problem to show when the check could not run.
 */
async function preflight(rows: Row[]): Promise<{ rows: Row[]; problem?: string }> {
  const valid = rows.filter((r) => r.valid);
  if (!valid.length) return { rows };
  try {
    const answer = await api<{ index: number; status: string; error?: string }[]>(
      "POST",
      "/api/v1/servers/import?dry_run=true",
      { body: valid.map((r) => r.item) },
    );
    if (!answer.ok) {
      return { rows, problem: `The pre-flight check failed: ${errorMessage(answer)}` };
    }
    const refused = new Map(
      answer.body.filter((p) => p.status !== "ready").map((p) => [valid[p.index].index, p.error]),
    );
    return {
      rows: rows.map((r) =>
        refused.has(r.index)
          ? { ...r, valid: false, refused: refused.get(r.index) ?? "Refused by the pre-flight" }
          : r
      ),
    };
  } catch {
    return {
      rows,
      problem: "No network: conflicts with Netbox and Kea are not checked yet; Preview again.",
    };
  }
}

function validate(items: unknown[], { importItemSchema, fieldErrors }: Schemas): Row[] {
  return items.map((item, index) => {
    const parsed = importItemSchema.safeParse(item);
    const name = (item as { device_name?: unknown })?.device_name;
    return {
      index,
      device_name: typeof name === "string" ? name : `#${index + 1}`,
      valid: parsed.success,
      errors: parsed.success ? {} : fieldErrors(parsed.error),
      item,
    };
  });
}

async function readFile(input: HTMLInputElement): Promise<string> {
  const file = input.files?.[0];
  return file ? await file.text() : "";
}

/** The import island. */
export default function ImportPanel(_props: Record<string, unknown>) {
  const [mode, setMode] = useState<"json" | "merge">("json");
  const [json, setJson] = useState("");
  const [yaml, setYaml] = useState("");
  const [kea, setKea] = useState("");
  const [domain, setDomain] = useState("");
  const [names, setNames] = useState<"kea" | "yaml">("kea");
  const [rows, setRows] = useState<Row[]>([]);
  const [problems, setProblems] = useState<string[]>([]);
  const [summary, setSummary] = useState("");
  const [running, setRunning] = useState(false);
  const [loading, setLoading] = useState(false);

  const preview = async () => {
    setSummary("");
    let data: unknown[] = [];
    if (mode === "json") {
      try {
        data = JSON.parse(json);
        if (!Array.isArray(data)) throw new Error("The JSON must be an array of servers");
      } catch (e) {
        setRows([]);
        setProblems([(e as Error).message]);
        return;
      }
    }
    setLoading(true);
    try {
      let found: Row[];
      let notes: string[] = [];
      if (mode === "json") {
        found = validate(data, await loadSchemas());
      } else {
        const [{ mergeImport }, validation] = await Promise.all([loadMerge(), loadSchemas()]);
        // The same options as `deno task merge-import --domain … --names …`.
        const domains = domain.split(/[\s,]+/).filter(Boolean);
        const result = mergeImport(yaml, kea, { domains, names });
        notes = result.problems.map((p) => `${p.severity}: ${p.message}`);
        found = validate(result.items, validation);
      }
      const checked = await preflight(found);
      setProblems(checked.problem ? [...notes, checked.problem] : notes);
      setRows(checked.rows);
    } catch (e) {
      setRows([]);
      setProblems([`The validator cannot load (${(e as Error).message}): check the connection.`]);
    } finally {
      setLoading(false);
    }
  };

  const run = () => {
    const valid = rows.filter((r) => r.valid);
    if (!valid.length) return;
    setRunning(true);
    const byIndex = new Map(valid.map((r, i) => [i, r.index]));
    const ws = new WebSocket(socketUrl("/api/v1/servers/import/ws"));
    const update = (i: number, patch: Partial<Row> | ((r: Row) => Partial<Row>)) =>
      setRows((old) =>
        old.map((r) =>
          r.index === byIndex.get(i)
            ? { ...r, ...(typeof patch === "function" ? patch(r) : patch) }
            : r
        )
      );
    ws.onopen = () => ws.send(JSON.stringify(valid.map((r) => r.item)));
    ws.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.type === "step") {
        update(e.index, (r) => ({ status: "running", steps: { ...r.steps, [e.step]: e.status } }));
      } else if (e.type === "result") {
        update(e.index, {
          status: e.status,
          steps: e.steps,
          message: e.error ?? (e.warnings?.length ? e.warnings.join("; ") : undefined),
        });
      } else if (e.type === "done") {
        const skipped = rows.length - valid.length;
        setSummary(`${e.ok} ok, ${e.failed} failed${skipped ? `, ${skipped} not started` : ""}`);
        setRunning(false);
        ws.close();
      }
    };
    ws.onerror = () => {
      setSummary("The connection was lost: the import goes on on the server; see Servers.");
      setRunning(false);
    };
  };

  const invalid = rows.filter((r) => !r.valid).length;
  const started = running || Boolean(summary);
  return (
    <section
      class="card"
      aria-labelledby="import-title"
      onFocusIn={() => prefetch(loadSchemas)}
    >
      <h1 id="import-title">Import</h1>
      <div class="row" role="group" aria-label="Input format">
        <button
          type="button"
          aria-pressed={mode === "json"}
          class={mode === "json" ? "primary" : ""}
          onClick={() => setMode("json")}
        >
          JSON
        </button>
        <button
          type="button"
          aria-pressed={mode === "merge"}
          class={mode === "merge" ? "primary" : ""}
          onClick={() => {
            prefetch(loadMerge);
            setMode("merge");
          }}
        >
          YAML + Kea
        </button>
      </div>
      {mode === "json"
        ? (
          <>
            <label for="json-file">JSON file</label>
            <input
              id="json-file"
              type="file"
              accept=".json,application/json"
              onChange={async (e) => setJson(await readFile(e.currentTarget))}
            />
            <label for="json-text">or paste JSON</label>
            <textarea id="json-text" value={json} onInput={(e) => setJson(e.currentTarget.value)} />
          </>
        )
        : (
          <>
            <label for="yaml-file">YAML device list</label>
            <input
              id="yaml-file"
              type="file"
              accept=".yaml,.yml"
              onChange={async (e) => setYaml(await readFile(e.currentTarget))}
            />
            <textarea
              id="yaml-text"
              aria-label="YAML device list"
              value={yaml}
              onInput={(e) => setYaml(e.currentTarget.value)}
            />
            <label for="kea-file">Kea reservations JSON</label>
            <input
              id="kea-file"
              type="file"
              accept=".json,.conf"
              onChange={async (e) => setKea(await readFile(e.currentTarget))}
            />
            <textarea
              id="kea-text"
              aria-label="Kea reservations JSON"
              value={kea}
              onInput={(e) => setKea(e.currentTarget.value)}
            />
            <label for="merge-domain">BMC domain (optional)</label>
            <input
              id="merge-domain"
              value={domain}
              placeholder=".bmc.example.org"
              onInput={(e) => setDomain(e.currentTarget.value)}
            />
            <label for="merge-names">Device names</label>
            <select
              id="merge-names"
              value={names}
              onChange={(e) => setNames(e.currentTarget.value === "yaml" ? "yaml" : "kea")}
            >
              <option value="kea">Kea's full name (dcoa-ra07u01 for ra07u01)</option>
              <option value="yaml">as written in the YAML list</option>
            </select>
          </>
        )}
      <div class="actions">
        <button type="button" disabled={loading} onClick={preview}>Preview</button>
        <button
          type="button"
          class="primary"
          // Done once per preview: Preview again to import the list again.
          disabled={running || Boolean(summary) || !rows.some((r) => r.valid)}
          onClick={run}
        >
          Import {rows.filter((r) => r.valid).length || ""}
        </button>
      </div>
      {loading && <p class="hint" role="status">Checking the rows…</p>}
      {problems.map((p) => <p key={p} class={p.startsWith("warning") ? "hint" : "error"}>{p}</p>)}
      {rows.length > 0 && (
        <p class="hint" data-testid="import-count">
          {rows.length} rows: {rows.length - invalid} ready, {invalid}{" "}
          invalid or refused{invalid ? " (not imported)" : ""}
        </p>
      )}
      {summary && <p role="status" data-testid="import-summary">{summary}</p>}
      {rows.length > 0 && (
        <table data-testid="import-rows">
          <thead>
            <tr>
              <th>#</th>
              <th>Device</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const state = stateOf(r, started);
              return (
                <tr key={r.index} data-valid={String(r.valid)} data-status={r.status ?? ""}>
                  <td>{r.index + 1}</td>
                  <td>
                    {r.device_name}
                    {Object.entries(r.errors).map(([k, v]) => (
                      <div key={k} class="error">{k}: {v}</div>
                    ))}
                    {r.refused && <div class="error">{r.refused}</div>}
                    {r.message && <div class="hint">{r.message}</div>}
                  </td>
                  <td>
                    <span class={`pill st-${state.pill}`}>
                      {state.label}
                    </span>
                    {state.detail && <div class="hint">{state.detail}</div>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
