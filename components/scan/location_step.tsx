/** Step 3: the rack slot on the elevation drawing, the device type and role, then Go. */
import { nextFree, RackElevation, targetUnits } from "../rack_elevation.tsx";
import type { Loc, Ref } from "./model.ts";
import type { LocationPick } from "./use_location.ts";

export function LocationStep(
  props: {
    pick: LocationPick;
    goError: string;
    /** Go is offered once MAC and password are in; this step can also be visited before. */
    canGo: boolean;
    goBlocker: string;
    busy: boolean;
    onGo: () => void;
  },
) {
  const { loc, setField, lists, rack, height, position, rackElevation, conflicts } = props.pick;
  const { suggested, last, preview } = props.pick;
  const select = (label: string, id: keyof Loc, items: Ref[], optional?: boolean) => (
    <Select
      label={label}
      id={id}
      value={loc[id]}
      items={items}
      optional={optional}
      onChange={(v) => setField(id, v)}
    />
  );
  const step = (direction: 1 | -1) => () => {
    const u = rackElevation && nextFree(rackElevation, position + direction, height, direction);
    if (u) setField("position", String(u));
  };
  return (
    <section class="card" aria-labelledby="loc-title">
      <h1 id="loc-title" tabIndex={-1} data-step-title="location">3 · Location</h1>
      <div class="grid2">
        {select("Site", "site", lists.sites)}
        {select("Location", "location", lists.locations)}
        {select("Rack", "rack", lists.racks)}
        {select("Device type", "device_type", lists.types)}
      </div>
      <label for="position">U position</label>
      <div class="stepper">
        <button
          type="button"
          aria-label="Next free unit below"
          disabled={!rackElevation || position <= 1}
          onClick={step(-1)}
        >
          −
        </button>
        <input
          id="position"
          type="number"
          inputMode="numeric"
          min={1}
          max={rack?.u_height ?? 60}
          value={loc.position}
          aria-describedby="position-help"
          onInput={(e) => setField("position", e.currentTarget.value)}
        />
        <button
          type="button"
          aria-label="Next free unit above"
          disabled={!rackElevation}
          onClick={step(1)}
        >
          +
        </button>
      </div>
      <p id="position-help" class="hint">
        {suggested && position === suggested
          ? last
            ? `Suggested: the next free unit above U${last.position}`
            : "Suggested: the lowest free unit"
          : "Tap a free unit in the rack, or step with − and +."}
      </p>
      {conflicts.length > 0 && (
        <p class="error" role="alert">
          U{targetUnits(position, height).join("–U")} is occupied by{" "}
          {conflicts.join(", ")}: pick a free unit.
        </p>
      )}
      {props.pick.positionIssue && (
        <p class="error" role="alert">The U position is a whole number from 1.</p>
      )}
      {props.pick.overTop && (
        <p class="error" role="alert">The device does not fit below the rack top.</p>
      )}
      {rackElevation && (
        <RackElevation
          elevation={rackElevation}
          position={position}
          height={height}
          onPick={(u) => setField("position", String(u))}
        />
      )}
      {preview && (
        <p>
          Device name: <span class="preview" data-testid="name-preview">{preview}</span>
        </p>
      )}
      <div class="grid2">
        {select("Role", "device_role", lists.roles)}
        {select("BMC prefix", "bmc_prefix", lists.prefixes, true)}
        {select("Tenant", "tenant", lists.tenants, true)}
      </div>
      {props.goError && <p class="error" role="alert" data-testid="go-error">{props.goError}</p>}
      <div class="actions sticky">
        <button type="button" onClick={() => history.back()}>Back</button>
        {props.canGo
          ? (
            <button
              type="button"
              class="primary"
              disabled={Boolean(props.goBlocker) || props.busy}
              aria-describedby={props.goBlocker ? "go-missing" : undefined}
              onClick={props.onGo}
            >
              Go
            </button>
          )
          : (
            <button type="button" class="primary" onClick={() => history.back()}>
              Done
            </button>
          )}
        {props.canGo && props.goBlocker && (
          <p id="go-missing" class="hint" data-testid="go-missing">{props.goBlocker}</p>
        )}
      </div>
    </section>
  );
}

function Select(
  props: {
    label: string;
    id: string;
    value: string;
    items: Ref[];
    optional?: boolean;
    onChange: (v: string) => void;
  },
) {
  return (
    <div>
      <label for={props.id}>{props.label}</label>
      <select
        id={props.id}
        value={props.value}
        onChange={(e) => props.onChange(e.currentTarget.value)}
      >
        <option value="">{props.optional ? "— default —" : "Choose…"}</option>
        {props.items.map((i) => (
          <option key={i.id} value={String(i.id)}>{i.prefix ?? i.name}</option>
        ))}
        {props.value && !props.items.some((i) => String(i.id) === props.value) && (
          <option value={props.value}>…</option>
        )}
      </select>
    </div>
  );
}
