/**
 * The Servers page's filter choices (`GET /api/v1/servers/filters`): every site, location, rack,
 * type and role of the Netbox inventory, each narrowed by the other filters chosen, and the
 * statuses present; computed from the inventory's distinct places, fast at 100,000 devices.
 */
import type { NetboxRef } from "../integrations/netbox.ts";
import { keys } from "../state/keys.ts";
import {
  EMPTY,
  OUR_STATUSES,
  sameRef,
  type ServerListDeps,
  type ServerListQuery,
} from "./inventory.ts";
import type { Inventory } from "./reference.ts";

export interface FilterOption {
  value: string;
  label: string;
}

/**
 * The filters' choices, from the data: every site, location, rack, type and role of the Netbox
 * inventory (each narrowed by the other filters chosen), and the statuses present.
 */
export async function serverFilters(
  deps: ServerListDeps,
  query: ServerListQuery,
): Promise<Record<Place | "status", FilterOption[]>> {
  const { config, store, reference } = deps;
  const inventory = reference && query.source !== "ours"
    ? await reference.inventory({
      roles: config.INVENTORY_ROLES,
      sites: config.INVENTORY_SITES,
    }).catch(() => EMPTY)
    : EMPTY;
  const facets = placeFacets(inventory, query);
  const statuses = new Set(facets.statuses);
  if (query.source !== "netbox") {
    for (const s of OUR_STATUSES) {
      const iter = store.kv.list({ prefix: keys.withStatus(s) }, { limit: 1 });
      for await (const _ of iter) statuses.add(s);
    }
  }
  return { ...facets.places, status: [...statuses].sort().map((s) => ({ value: s, label: s })) };
}

type Place = "site" | "location" | "rack" | "device_type" | "role";

/** Each place filter and the value it takes from a Netbox object (slug where Netbox has one). */
const PLACES: [Place, (r: NetboxRef) => string][] = [
  ["site", (r) => r.slug ?? String(r.id)],
  ["location", (r) => String(r.id)],
  ["rack", (r) => String(r.id)],
  ["device_type", (r) => String(r.id)],
  ["role", (r) => r.slug ?? String(r.id)],
];

interface Facets {
  places: Record<Place, FilterOption[]>;
  statuses: string[];
}

/** The devices' distinct places (site, location, rack, type, role) with their statuses. */
interface Combination {
  refs: (NetboxRef | null)[];
  statuses: Set<string>;
}

/**
 * Per inventory: its distinct combinations of places (a few thousand for 100,000 devices, about one
 * per rack, type and role), each place's choices sorted by label once, and the facets computed per
 * choice of place filters.
 */
interface FacetMemo {
  combinations: Combination[];
  /** Each place's distinct Netbox objects, by id. */
  refs: Map<number, NetboxRef>[];
  sorted: (FilterOption & { id: number })[][];
  facets: Map<string, Facets>;
}
const facetMemo = new WeakMap<Inventory, FacetMemo>();

function memoOf(inventory: Inventory): FacetMemo {
  let memo = facetMemo.get(inventory);
  if (memo) return memo;
  const byKey = new Map<string, Combination>();
  const refs = PLACES.map(() => new Map<number, NetboxRef>());
  for (const d of inventory.devices) {
    const places = PLACES.map(([field]) => d[field]);
    places.forEach((r, k) => r && refs[k].set(r.id, r));
    const key = places.map((r) => r?.id ?? "").join("|");
    const c = byKey.get(key) ?? { refs: places, statuses: new Set() };
    c.statuses.add(d.status);
    byKey.set(key, c);
  }
  const collator = new Intl.Collator();
  memo = {
    combinations: [...byKey.values()],
    refs,
    sorted: PLACES.map(([, value], k) =>
      [...refs[k].values()].map((r) => ({ id: r.id, value: value(r), label: r.name }))
        .sort((a, b) => collator.compare(a.label, b.label))
    ),
    facets: new Map(),
  };
  facetMemo.set(inventory, memo);
  return memo;
}

/**
 * Each place's choices among the devices that pass the other place filters, and the statuses of
 * those that pass them all, from the inventory's distinct combinations of places.
 */
function placeFacets(inventory: Inventory, query: ServerListQuery): Facets {
  const wanted = PLACES.map(([field]) => query[field]);
  const memoKey = JSON.stringify(wanted);
  const memo = memoOf(inventory);
  const hit = memo.facets.get(memoKey);
  if (hit) return hit;
  // The objects each filter chosen names, found once among the distinct ones (a few thousand).
  const chosen = wanted.map((want, k) =>
    !want
      ? null
      : new Set([...memo.refs[k].values()].filter((r) => sameRef(r, want)).map((r) => r.id))
  );
  const seen = PLACES.map(() => new Set<number>());
  const statuses = new Set<string>();
  for (const { refs, statuses: present } of memo.combinations) {
    let failed = -1;
    let fails = 0;
    for (let k = 0; k < PLACES.length && fails < 2; k++) {
      const ids = chosen[k];
      if (ids && !ids.has(refs[k]?.id ?? -1)) {
        fails++;
        failed = k;
      }
    }
    if (fails > 1) continue;
    for (let k = 0; k < PLACES.length; k++) {
      const r = refs[k];
      if (r && (fails === 0 || failed === k)) seen[k].add(r.id);
    }
    if (fails === 0) { for (const s of present) statuses.add(s); }
  }
  const facets: Facets = {
    places: Object.fromEntries(
      PLACES.map(([field], k) => [
        field,
        memo.sorted[k].filter((o) => seen[k].has(o.id)).map(({ value, label }) => ({
          value,
          label,
        })),
      ]),
    ) as Record<Place, FilterOption[]>,
    statuses: [...statuses],
  };
  if (memo.facets.size > 100) memo.facets.clear();
  memo.facets.set(memoKey, facets);
  return facets;
}
