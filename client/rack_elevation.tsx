/** SVG rack elevation: free and occupied units, the target units highlighted. */

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

const ROW = 14;
const WIDTH = 220;

/** The drawing; clicking a free unit picks it as the position. */
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
  const top = elevation.rack.u_height;
  const byPos = new Map(elevation.units.map((u) => [u.position, u]));
  const rows = [];
  for (let u = top; u >= 1; u--) {
    const y = (top - u) * ROW;
    const unit = byPos.get(u);
    const used = Boolean(unit?.device);
    const cls = target.has(u) ? (used ? "u-conflict" : "u-target") : used ? "u-used" : "u-free";
    rows.push(
      <g
        key={u}
        data-u={u}
        data-state={cls.slice(2)}
        onClick={() => !used && props.onPick?.(u)}
      >
        <rect x={24} y={y} width={WIDTH - 28} height={ROW - 1} class={cls} rx={2} />
        <text x={2} y={y + ROW - 4}>{u}</text>
        {used && unit?.device && (unit.position === u) && (
          <text x={30} y={y + ROW - 4} class="u-label-used">{unit.device.name}</text>
        )}
      </g>,
    );
  }
  return (
    <figure class="rack" aria-label={`Rack ${elevation.rack.name} elevation`}>
      <svg
        viewBox={`0 0 ${WIDTH} ${top * ROW}`}
        role="img"
        aria-label={`Rack ${elevation.rack.name}: ${
          elevation.units.filter((x) => x.device).length
        } of ${top} units occupied${position > 0 ? `, target U${position}` : ""}`}
      >
        {rows}
      </svg>
    </figure>
  );
}
