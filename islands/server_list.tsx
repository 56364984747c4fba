/** Servers: live list of registrations with provisioning state, filters and search. */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, newer, subscribeEvents } from "../client/api.ts";

interface Row {
  id: string;
  device_name: string;
  status: string;
  bmc_mac: string;
  bmc_ip?: string;
  request?: { site?: string | number; rack?: string | number; position?: number };
  provisioning?: {
    state: string;
    operationalStatus: string;
    poweredOn: boolean;
    errorMessage: string;
  };
  updated_at?: string;
}

const STATUSES = ["", "queued", "running", "ok", "failed", "blocked", "decommissioned"];

/** The list island. */
export default function ServerList(_props: Record<string, unknown>) {
  const [items, setItems] = useState<Row[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  const [site, setSite] = useState("");
  const [error, setError] = useState("");

  const filters = () => {
    const p = new URLSearchParams();
    if (q) p.set("q", q);
    if (status) p.set("status", status);
    if (site) p.set("site", site);
    return p;
  };
  const query = (more?: string | null) => {
    const p = filters();
    if (more) p.set("cursor", more);
    return `/api/v1/servers?${p}`;
  };
  const load = async (more?: string | null) => {
    try {
      const a = await api<{ items: Row[]; cursor: string | null }>("GET", query(more));
      if (!a.ok) return setError(`The list cannot be loaded (${a.status})`);
      setError("");
      setItems((old) => more ? [...old, ...a.body.items] : a.body.items);
      setCursor(a.body.cursor);
    } catch {
      setError("Offline: the list will refresh when the network returns.");
    }
  };
  // The filters live in the address too, so a reload or a shared link shows the same list.
  const [fromUrl, setFromUrl] = useState(false);
  useEffect(() => {
    const p = new URLSearchParams(location.search);
    setQ(p.get("q") ?? "");
    setStatus(p.get("status") ?? "");
    setSite(p.get("site") ?? "");
    setFromUrl(true);
  }, []);
  useEffect(() => {
    if (!fromUrl) return;
    const p = filters();
    history.replaceState(null, "", p.size ? `?${p}` : location.pathname);
    const t = setTimeout(() => load(), 250);
    return () => clearTimeout(t);
  }, [q, status, site, fromUrl]);

  // Rows change live over one socket for the page's life (not one per keystroke). A new row joins
  // an unfiltered list at once; under a search or site filter (which the server matches) the list
  // is read again, at most every second.
  const current = useRef({ q, status, site, load });
  current.current = { q, status, site, load };
  useEffect(() => {
    let again: ReturnType<typeof setTimeout> | undefined;
    const reloadSoon = () =>
      again ??= setTimeout(() => (again = undefined, current.current.load()), 1000);
    const off = subscribeEvents((e) => {
      if (e.type !== "registration") return;
      const r = e.registration as Row;
      const { q, status, site } = current.current;
      setItems((old) => {
        if (old.some((x) => x.id === r.id)) return old.map((x) => x.id === r.id ? newer(x, r) : x);
        if (q || site) reloadSoon();
        else if (!status || r.status === status) return [r, ...old];
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
      <label for="q">Search</label>
      <input
        id="q"
        type="search"
        placeholder="name, MAC or IP"
        value={q}
        onInput={(e) => setQ(e.currentTarget.value)}
      />
      <div class="grid2">
        <div>
          <label for="status">Status</label>
          <select id="status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            {STATUSES.map((s) => <option key={s} value={s}>{s || "any"}</option>)}
          </select>
        </div>
        <div>
          <label for="site-filter">Site</label>
          <input
            id="site-filter"
            value={site}
            placeholder="slug or id"
            onInput={(e) => setSite(e.currentTarget.value)}
          />
        </div>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="list" aria-live="polite" data-testid="server-list">
        {items.map((r) => (
          <li key={r.id} data-id={r.id}>
            <a href={`/servers/${r.id}`}>
              <span>
                {r.device_name}
                <span class="sub">
                  {r.bmc_mac}
                  {r.bmc_ip ? ` · ${r.bmc_ip}` : ""}
                  {r.provisioning
                    ? ` · ${r.provisioning.state || "registering"}${
                      r.provisioning.poweredOn ? " · on" : ""
                    }`
                    : ""}
                </span>
              </span>
              <span class={`pill st-${r.status}`}>{r.status}</span>
            </a>
          </li>
        ))}
      </ul>
      {!items.length && !error && <p class="hint">No servers match.</p>}
      {cursor && <button type="button" onClick={() => load(cursor)}>More</button>}
    </section>
  );
}
