/**
 * Servers: the inventory (our registrations and the Netbox devices of the configured roles and
 * sites), live, with drop-down filters built from the data and search.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, newer, subscribeEvents } from "../client/api.ts";

interface Ref {
  id: number;
  name: string;
  slug?: string;
}

interface Row {
  /** Our registration's id; for a Netbox device, its registration's (or null). */
  id: string | null;
  /** Absent on rows from the live events: those are always ours. */
  origin?: "ours" | "netbox";
  device_name: string;
  status: string;
  bmc_mac?: string;
  bmc_ip?: string;
  request?: { rack?: string | number; position?: number; device_role?: string | number };
  netbox?: {
    status: string | null;
    url: string | null;
    rack: Ref | null;
    position: number | null;
    role: Ref | null;
  } | null;
  provisioning?: {
    state: string;
    operationalStatus: string;
    poweredOn: boolean;
    errorMessage: string;
  };
  updated_at?: string;
}

interface Option {
  value: string;
  label: string;
}

/** The drop-down filters, in the order shown; `source` picks registrations, Netbox or both. */
const FILTERS = [
  ["site", "Site"],
  ["location", "Location"],
  ["rack", "Rack"],
  ["device_type", "Type"],
  ["role", "Role"],
  ["status", "Status"],
] as const;
type FilterName = typeof FILTERS[number][0] | "source" | "q";
type Filters = Record<FilterName, string>;
const NO_FILTERS: Filters = {
  q: "",
  source: "",
  site: "",
  location: "",
  rack: "",
  device_type: "",
  role: "",
  status: "",
};
const SOURCES: Option[] = [
  { value: "", label: "Registered and Netbox" },
  { value: "ours", label: "Registered here" },
  { value: "netbox", label: "Netbox devices" },
];
const RETIRED = ["decommissioned", "decommissioning"];

/** `2026-12-06 23:27` in the browser's time zone: 24 h, the same everywhere. */
function shortTime(iso?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }`;
}

/** `RB06 · U12 · Server`: where it is and what it is for. */
function place(r: Row): string {
  const rack = r.netbox?.rack?.name ?? r.request?.rack;
  const position = r.netbox?.position ?? r.request?.position;
  const role = r.netbox?.role?.name ?? r.request?.device_role;
  return [rack, position != null ? `U${position}` : undefined, role]
    .filter((x) => x !== undefined && x !== "").join(" · ");
}

function RowBody({ r }: { r: Row }) {
  const netboxOnly = r.origin === "netbox";
  const details = [
    place(r),
    r.bmc_ip,
    r.provisioning
      ? `${r.provisioning.state || "registering"}${r.provisioning.poweredOn ? " · on" : ""}`
      : "",
    netboxOnly ? "" : shortTime(r.updated_at),
  ].filter(Boolean).join(" · ");
  return (
    <>
      <span>
        {r.device_name}
        <span class="sub">{details}</span>
      </span>
      <span class={`pill st-${r.status}`}>{netboxOnly ? `Netbox: ${r.status}` : r.status}</span>
    </>
  );
}

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

  /** A filter's choices: from the data, plus the current value when the data lacks it. */
  const optionsFor = (name: FilterName) => {
    const list = name === "source" ? SOURCES.slice(1) : choices[name] ?? [];
    const value = filters[name];
    return value && !list.some((o) => o.value === value)
      ? [...list, { value, label: value }]
      : list;
  };

  const chosen = FILTERS.filter(([name]) => filters[name]).length;

  return (
    <section class="card" aria-labelledby="servers-title">
      <h1 id="servers-title">Servers</h1>
      <label for="q">Search</label>
      <input
        id="q"
        type="search"
        placeholder="name, MAC or IP"
        value={filters.q}
        onInput={(e) => set("q", e.currentTarget.value)}
      />
      <label for="filter-source">Show</label>
      <select
        id="filter-source"
        value={filters.source}
        onChange={(e) => set("source", e.currentTarget.value)}
      >
        <option value="">{SOURCES[0].label}</option>
        {optionsFor("source").map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
      <details class="filters" open={chosen > 0}>
        <summary>Filters{chosen ? ` (${chosen})` : ""}</summary>
        <div class="grid2">
          {FILTERS.map(([name, label]) => (
            <div key={name}>
              <label for={`filter-${name}`}>{label}</label>
              <select
                id={`filter-${name}`}
                value={filters[name]}
                onChange={(e) => set(name, e.currentTarget.value)}
              >
                <option value="">any</option>
                {optionsFor(name).map((o) => (
                  <option key={o.value} value={o.value}>{o.label}</option>
                ))}
              </select>
            </div>
          ))}
        </div>
        <p class="hint">Decommissioned servers are listed only when chosen under Status.</p>
      </details>
      {error && <p class="error" role="alert">{error}</p>}
      {warning && <p class="hint" role="status">{warning}</p>}
      <ul class="list" aria-live="polite" data-testid="server-list">
        {items.map((r) => (
          <li
            key={r.id ?? `netbox:${r.device_name}`}
            data-id={r.id ?? undefined}
            data-origin={r.origin ?? "ours"}
          >
            {r.id
              ? (
                <a href={`/servers/${r.id}`}>
                  <RowBody r={r} />
                </a>
              )
              : r.netbox?.url
              ? (
                <a href={r.netbox.url} target="_blank" rel="noopener">
                  <RowBody r={r} />
                </a>
              )
              : (
                <div class="item">
                  <RowBody r={r} />
                </div>
              )}
          </li>
        ))}
      </ul>
      {!items.length && !error && <p class="hint">No servers match.</p>}
      {cursor && <button type="button" onClick={() => load(cursor)}>More</button>}
    </section>
  );
}
