/**
 * Servers: the inventory (our registrations and the Netbox devices of the configured roles and
 * sites), live, with drop-down filters built from the data and search.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, newer, subscribeEvents } from "../client/api.ts";
import {
  FilterBar,
  type FilterName,
  type Filters,
  NO_FILTERS,
  type Option,
} from "../components/servers/filters.tsx";
import { type Row, ServerItem } from "../components/servers/row.tsx";

const RETIRED = ["decommissioned", "decommissioning"];

/** The list island. */
export default function ServerList(_props: Record<string, unknown>) {
  const [items, setItems] = useState<Row[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [choices, setChoices] = useState<Record<string, Option[]>>({});
  const [error, setError] = useState("");
  const [warning, setWarning] = useState("");
  const set = (name: FilterName, value: string) => setFilters((f) => ({ ...f, [name]: value }));

  const params = (f: Filters) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
    return p;
  };
  const load = async (more?: string | null) => {
    const p = params(current.current.filters);
    if (more) p.set("cursor", more);
    try {
      const a = await api<{ items: Row[]; cursor: string | null; warnings?: string[] }>(
        "GET",
        `/api/v1/servers?${p}`,
      );
      if (!a.ok) return setError(`The list cannot be loaded (${a.status})`);
      setError("");
      setWarning(a.body.warnings?.join(" ") ?? "");
      setItems((old) => more ? [...old, ...a.body.items] : a.body.items);
      setCursor(a.body.cursor);
    } catch {
      setError("Offline: the list will refresh when the network returns.");
    }
  };
  const loadChoices = async () => {
    const p = params(current.current.filters);
    p.delete("q");
    try {
      const a = await api<Record<string, Option[]>>("GET", `/api/v1/servers/filters?${p}`);
      if (a.ok) setChoices(a.body);
    } catch { /* the drop-downs keep their choices while offline */ }
  };

  // The filters live in the address too, so a reload or a shared link shows the same list.
  const [fromUrl, setFromUrl] = useState(false);
  useEffect(() => {
    const p = new URLSearchParams(location.search);
    const f = { ...NO_FILTERS };
    for (const k of Object.keys(f) as FilterName[]) f[k] = p.get(k) ?? "";
    setFilters(f);
    setFromUrl(true);
  }, []);
  const current = useRef({ filters, load });
  current.current = { filters, load };
  useEffect(() => {
    if (!fromUrl) return;
    const p = params(filters);
    history.replaceState(null, "", p.size ? `?${p}` : location.pathname);
    const t = setTimeout(() => {
      load();
      loadChoices();
    }, 250);
    return () => clearTimeout(t);
  }, [filters, fromUrl]);

  // Rows change live over one socket for the page's life (not one per keystroke). A new row joins
  // an unfiltered list at once; under a filter the server matches, the list is read again, at
  // most every second.
  useEffect(() => {
    let again: ReturnType<typeof setTimeout> | undefined;
    const reloadSoon = () =>
      again ??= setTimeout(() => (again = undefined, current.current.load()), 1000);
    const off = subscribeEvents((e) => {
      if (e.type !== "registration") return;
      const r = e.registration as Row;
      const { q: _q, status, ...rest } = current.current.filters;
      const filtered = Object.values(rest).some(Boolean) || _q;
      setItems((old) => {
        const ours = (x: Row): x is Row & { id: string } => x.origin !== "netbox" && x.id === r.id;
        if (old.some(ours)) {
          // The event carries the registration; the row keeps what the list added (Netbox's view).
          return old.map((x) =>
            ours(x) ? { ...newer(x, r as Row & { id: string }), netbox: x.netbox } : x
          );
        }
        if (filtered) reloadSoon();
        else if (status ? r.status === status : !RETIRED.includes(r.status)) return [r, ...old];
        return old;
      });
    }, () => current.current.load()); // every (re)connect: what happened while offline
    return () => {
      off();
      clearTimeout(again);
    };
  }, []);

  // Registrations queued offline on this phone are sent from here too when the network returns.
  useEffect(() => {
    const send = () =>
      navigator.onLine &&
      import("../client/outbox.ts").then((m) => m.replayOutbox()).catch(() => {});
    send();
    addEventListener("online", send);
    return () => removeEventListener("online", send);
  }, []);

  return (
    <section class="card" aria-labelledby="servers-title">
      <h1 id="servers-title">Servers</h1>
      <FilterBar filters={filters} choices={choices} set={set} />
      {error && <p class="error" role="alert">{error}</p>}
      {warning && <p class="hint" role="status">{warning}</p>}
      <ul class="list" aria-live="polite" data-testid="server-list">
        {items.map((r) => <ServerItem key={r.id ?? `netbox:${r.device_name}`} r={r} />)}
      </ul>
      {!items.length && !error && <p class="hint">No servers match.</p>}
      {cursor && <button type="button" onClick={() => load(cursor)}>More</button>}
    </section>
  );
}
