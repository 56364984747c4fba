/**
 * Import: JSON (upload or paste), or a YAML device list + Kea reservations merged in the browser
 * with the same code as `deno task merge-import`; per-row validation, then the API's pre-flight
 * (nothing written) so "ready" means ready; live per-server progress.
 */
import { useState } from "preact/hooks";
import { preflight, type Row, RowsTable, runImport, validate } from "../components/import/rows.tsx";
import { TextSource } from "../components/import/text_source.tsx";
import { FormatToggle, MergeOptions } from "../components/import/options.tsx";

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
    runImport(valid, rows.length - valid.length, {
      update: (i, patch) =>
        setRows((old) =>
          old.map((r) =>
            r.index === byIndex.get(i)
              ? { ...r, ...(typeof patch === "function" ? patch(r) : patch) }
              : r
          )
        ),
      end: (text) => {
        setSummary(text);
        setRunning(false);
      },
    });
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
      <FormatToggle
        mode={mode}
        onChange={(m) => {
          if (m === "merge") prefetch(loadMerge);
          setMode(m);
        }}
      />
      {mode === "json"
        ? (
          <>
            <TextSource
              id="json"
              label="JSON file"
              accept=".json,application/json"
              value={json}
              onChange={setJson}
              pasteLabel="or paste JSON"
            />
          </>
        )
        : (
          <>
            <TextSource
              id="yaml"
              label="YAML device list"
              accept=".yaml,.yml"
              value={yaml}
              onChange={setYaml}
            />
            <TextSource
              id="kea"
              label="Kea reservations JSON"
              accept=".json,.conf"
              value={kea}
              onChange={setKea}
            />
            <MergeOptions
              domain={domain}
              setDomain={setDomain}
              names={names}
              setNames={setNames}
            />
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
      {rows.length > 0 && <RowsTable rows={rows} started={started} />}
    </section>
  );
}
