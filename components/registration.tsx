/** Pieces of a registration shown both on the scan flow's last step and on the server page. */
import type { CreatedRow } from "../client/format.ts";

/** Statuses after which a registration's run is over. */
export const TERMINAL = new Set(["ok", "failed", "blocked", "decommissioned"]);

/** One step's state as the API reports it. */
export interface StepView {
  status: string;
  message?: string;
}

/** The steps of a run with their status pills and messages; `label` names a step for display. */
export function StepList(
  props: { steps: [string, StepView][]; label?: (step: string) => string; live?: boolean },
) {
  return (
    <ul class="steplist" aria-live={props.live ? "polite" : undefined}>
      {props.steps.map(([name, s]) => (
        <li key={name} data-step={name} data-status={s.status}>
          <span>{props.label ? props.label(name) : name}</span>
          <span class={`pill st-${s.status}`}>{s.status}</span>
          {s.message && <span class="msg">{s.message}</span>}
        </li>
      ))}
    </ul>
  );
}

/** The objects a registration made (Netbox links where there is one). */
export function CreatedObjects(props: { rows: CreatedRow[] }) {
  return (
    <dl class="kv">
      {props.rows.map((c) => (
        <>
          <dt key={`k${c.label}`}>{c.label}</dt>
          <dd key={`v${c.label}`}>
            {c.href ? <a class="button" href={c.href}>{c.value}</a> : c.value}
          </dd>
        </>
      ))}
    </dl>
  );
}
