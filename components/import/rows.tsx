/**
 * The import's rows: validated in the browser, checked by the API's pre-flight (nothing written),
 * then run over the import WebSocket with per-row progress.
 */
import { api, errorMessage, socketUrl } from "../../client/api.ts";

type Schemas = typeof import("../../lib/domain/schemas.ts");

/** One server of the list being imported. */
export interface Row {
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
export function stateOf(
  r: Row,
  started: boolean,
): { pill: string; label: string; detail?: string } {
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
export async function preflight(rows: Row[]): Promise<{ rows: Row[]; problem?: string }> {
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

/** Each item checked against the import-item schema. */
export function validate(items: unknown[], { importItemSchema, fieldErrors }: Schemas): Row[] {
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

/** Progress of a running import, by the row's position among the valid rows sent. */
export interface ImportRun {
  /** A row's patch (or a function of the row giving it). */
  update: (i: number, patch: Partial<Row> | ((r: Row) => Partial<Row>)) => void;
  /** The import ended: `summary` says how, or that the connection was lost. */
  end: (summary: string) => void;
}

/** Sends the valid rows' items over `/api/v1/servers/import/ws` and reports each event. */
export function runImport(valid: Row[], skipped: number, on: ImportRun): void {
  const ws = new WebSocket(socketUrl("/api/v1/servers/import/ws"));
  ws.onopen = () => ws.send(JSON.stringify(valid.map((r) => r.item)));
  ws.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (e.type === "step") {
      on.update(e.index, (r) => ({ status: "running", steps: { ...r.steps, [e.step]: e.status } }));
    } else if (e.type === "result") {
      on.update(e.index, {
        status: e.status,
        steps: e.steps,
        message: e.error ?? (e.warnings?.length ? e.warnings.join("; ") : undefined),
      });
    } else if (e.type === "done") {
      on.end(`${e.ok} ok, ${e.failed} failed${skipped ? `, ${skipped} not started` : ""}`);
      ws.close();
    }
  };
  ws.onerror = () =>
    on.end("The connection was lost: the import goes on on the server; see Servers.");
}

/** The rows with their errors, refusals and live state. */
export function RowsTable(props: { rows: Row[]; started: boolean }) {
  return (
    <table data-testid="import-rows">
      <thead>
        <tr>
          <th>#</th>
          <th>Device</th>
          <th>State</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => {
          const state = stateOf(r, props.started);
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
  );
}
