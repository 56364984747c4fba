/**
 * Rack elevation as a control: one 44 px row per unit, free units are buttons that pick the
 * position, the target units highlighted and scrolled into the middle of the drawing.
 */
import { useEffect, useRef } from "preact/hooks";

export interface Elevation {
  rack: { id: number; name: string; u_height: number };
  units: { position: number; device?: { id: number | null; name: string } }[];
}

/** Units the device would occupy, bottom-up from `position`. */
export function targetUnits(position: number, height: number): number[] {
  return Array.from({ length: Math.max(1, height) }, (_, i) => position + i);
}

/** Names of the devices already in the target units (empty when the slot is free). */
export function slotConflicts(elevation: Elevation, position: number, height: number): string[] {
  const wanted = new Set(targetUnits(position, height));
  const names = elevation.units.filter((u) => wanted.has(u.position) && u.device)
    .map((u) => u.device!.name);
  return [...new Set(names)];
}

/** True when a `height`U device fits at `position`: inside the rack and every unit free. */
export function fits(elevation: Elevation, position: number, height: number): boolean {
  return position >= 1 && position + Math.max(1, height) - 1 <= elevation.rack.u_height &&
    slotConflicts(elevation, position, height).length === 0;
}

/**
 * The next position where the device fits, searching from `from` in `direction` (+1 up, -1
 * down); null when there is none that way.
 */
export function nextFree(
  elevation: Elevation,
  from: number,
  height: number,
  direction: 1 | -1,
): number | null {
  for (let u = from; u >= 1 && u <= elevation.rack.u_height; u += direction) {
    if (fits(elevation, u, height)) return u;
  }
  return null;
}

/**
 * The position to suggest: right above the last device placed in this rack (a server usually
 * goes on top of the previous one), else the lowest free one.
 */
export function suggestPosition(
  elevation: Elevation,
  height: number,
  last?: { position: number; height: number } | null,
): number | null {
  const above = last
    ? nextFree(elevation, last.position + Math.max(1, last.height), height, 1)
    : null;
  return above ?? nextFree(elevation, 1, height, 1);
}

/** The drawing; tapping a free unit picks it as the position. */
export function RackElevation(
  props: {
    elevation: Elevation;
    position: number;
    height: number;
    onPick?: (position: number) => void;
  },
) {
  const { elevation, position, height } = props;
  const target = new Set(position > 0 ? targetUnits(position, height) : []);
  const byPos = new Map(elevation.units.map((u) => [u.position, u]));
  const box = useRef<HTMLDivElement>(null);

  // Keep the target in the middle of the drawing without scrolling the page itself.
  useEffect(() => {
    const el = box.current;
    const row = el?.querySelector<HTMLElement>(`[data-u="${position}"]`);
    if (el && row) el.scrollTop = row.offsetTop - el.clientHeight / 2 + row.offsetHeight / 2;
  }, [position, elevation]);

  const rows = [];
  for (let u = elevation.rack.u_height; u >= 1; u--) {
    const unit = byPos.get(u);
    const used = Boolean(unit?.device);
    const state = target.has(u) ? (used ? "conflict" : "target") : used ? "used" : "free";
    const label = used ? unit!.device!.name : target.has(u) ? "this server" : "free";
    rows.push(
      used
        ? (
          <li key={u} data-u={u} data-state={state} class={`u-row u-${state}`}>
            <span class="u-num">U{u}</span> <span>{label}</span>
          </li>
        )
        : (
          <li key={u}>
            <button
              type="button"
              data-u={u}
              data-state={state}
              class={`u-row u-${state}`}
              aria-pressed={target.has(u)}
              onClick={() => props.onPick?.(u)}
            >
              <span class="u-num">U{u}</span> <span>{label}</span>
            </button>
          </li>
        ),
    );
  }
  const occupied = elevation.units.filter((x) => x.device).length;
  return (
    <div
      class="rack"
      ref={box}
      role="group"
      aria-label={`Rack ${elevation.rack.name}: ${occupied} of ${elevation.rack.u_height} units occupied`}
    >
      <ol>{rows}</ol>
    </div>
  );
}
