/** django-filter's lookups as the fake's list endpoints apply them: unknown choices are a 400. */
import { assignedInterface, invalid, type NetboxDb, normalMac } from "./db.ts";

export type Filter<T> = (o: T, values: string[]) => boolean;

/** Exact, case-insensitive exact, contains and negated lookups on a string field. */
export function stringFilters<T>(
  field: string,
  get: (o: T) => string | null,
): Record<string, Filter<T>> {
  return {
    [field]: (o, v) => v.includes(get(o) ?? ""),
    [`${field}__ie`]: (o, v) => v.some((x) => x.toLowerCase() === (get(o) ?? "").toLowerCase()),
    [`${field}__ic`]: (o, v) =>
      v.some((x) => (get(o) ?? "").toLowerCase().includes(x.toLowerCase())),
    [`${field}__n`]: (o, v) => !v.includes(get(o) ?? ""),
  };
}

/** A ModelMultipleChoiceFilter: unknown ids are a 400, like django-filter answers. */
export function fkFilter<T>(
  param: string,
  table: Map<number, unknown>,
  get: (o: T) => number | null,
): Filter<T> {
  return (o, values) => {
    const ids = values.map((v) => {
      const n = Number(v);
      if (!/^\d+$/.test(v) || !table.has(n)) {
        invalid(param, `Select a valid choice. ${v} is not one of the available choices.`);
      }
      return n;
    });
    return ids.includes(get(o) ?? -1);
  };
}

/**
 * A ModelMultipleChoiceFilter on a related object's slug (`?site=dcoa`, `?role=server`): an
 * unknown slug is a 400, like django-filter answers; several values match any of them.
 */
export function slugFilter<T>(
  param: string,
  table: Map<number, { slug: string }>,
  get: (o: T) => number | null,
): Filter<T> {
  return (o, values) => {
    const ids = values.map((v) => {
      const found = [...table.entries()].find(([, x]) => x.slug === v);
      if (!found) {
        invalid(param, `Select a valid choice. ${v} is not one of the available choices.`);
      }
      return found[0];
    });
    return ids.includes(get(o) ?? -1);
  };
}

/** A MultipleChoiceFilter: a value outside the choices is a 400. */
export function choiceFilter<T>(
  param: string,
  choices: readonly string[],
  get: (o: T) => string,
): Filter<T> {
  return (o, values) => {
    for (const v of values) {
      if (!choices.includes(v)) {
        invalid(param, `Select a valid choice. ${v} is not one of the available choices.`);
      }
    }
    return values.includes(get(o));
  };
}

export const namedFilters = <T extends { name: string; slug: string }>() => ({
  ...stringFilters<T>("name", (o) => o.name),
  ...stringFilters<T>("slug", (o) => o.slug),
  q: (o: T, v: string[]) => v.some((x) => o.name.toLowerCase().includes(x.toLowerCase())),
});

// The devices holding any of the MACs, found in one pass per query (as a database index would):
// the filter runs once per device with the same values array.
const devicesByMacs = new WeakMap<string[], Set<number>>();
export function devicesWithMac(db: NetboxDb, values: string[]): Set<number> {
  let ids = devicesByMacs.get(values);
  if (ids) return ids;
  const wanted = new Set(values.map((x) => normalMac(x) ?? ""));
  ids = new Set();
  if (db.macObjects) {
    for (const m of db.macAddresses.values()) {
      const iface = wanted.has(m.mac_address) ? assignedInterface(db, m) : null;
      if (iface) ids.add(iface.device_id);
    }
  } else {
    for (const i of db.interfaces.values()) {
      if (i.mac_address && wanted.has(i.mac_address)) ids.add(i.device_id);
    }
  }
  devicesByMacs.set(values, ids);
  return ids;
}
