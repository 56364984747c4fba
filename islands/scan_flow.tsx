/**
 * Scan → Location → Go: the technician's registration flow. Scans (or types) the BMC MAC and
 * password, picks the rack slot on an elevation drawing, registers and follows the steps live;
 * offline, the registration is queued in the outbox with its password encrypted.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { MAC_MESSAGES, macProblem, macVendor } from "../lib/mac.ts";
import { deviceName } from "../lib/names.ts";
import { api, errorMessage, newer, subscribeEvents } from "../client/api.ts";
import { Camera } from "../client/camera.tsx";
import { RetryForm, type RetryTarget } from "../client/retry_form.tsx";
import { scannedMac, scannedPassword } from "../client/scan_payload.ts";
import {
  type Elevation,
  RackElevation,
  slotConflicts,
  targetUnits,
} from "../client/rack_elevation.tsx";
import {
  listOutbox,
  onOutboxChange,
  type OutboxItem,
  queueRegistration,
  removeOutboxItem,
  replayOutbox,
} from "../client/outbox.ts";

export interface ScanFlowProps {
  /** URL of the self-hosted ZXing WebAssembly (from the asset manifest). */
  wasmUrl?: string;
  /** DEVICE_NAME_TEMPLATE, so the preview matches the server. */
  template?: string;
  /** The server's outbox public key (RSA-OAEP JWK) for offline queueing. */
  outboxKey?: JsonWebKey | null;
  [key: string]: unknown;
}

type Step = "mac" | "password" | "location" | "go";
interface Ref {
  id: number;
  name: string;
  slug?: string;
  u_height?: number;
  prefix?: string;
}
interface Loc {
  site: string;
  location: string;
  rack: string;
  position: string;
  device_type: string;
  device_role: string;
  bmc_prefix: string;
  tenant: string;
}
interface StepView {
  status: string;
  message?: string;
}
interface Progress {
  id: string;
  device_name: string;
  status: string;
  error?: string;
  steps: Record<string, StepView>;
  updated_at?: string;
  boot_mac?: string;
  bmc?: RetryTarget["bmc"];
}

const STEPS = ["netbox", "openbao", "kea", "metal3"];
const EMPTY: Loc = {
  site: "",
  location: "",
  rack: "",
  position: "",
  device_type: "",
  device_role: "",
  bmc_prefix: "",
  tenant: "",
};
const LAST_KEY = "onboarding.lastLocation";
const TERMINAL = new Set(["ok", "failed", "blocked", "decommissioned"]);

function lastLocation(): Loc {
  try {
    return { ...EMPTY, ...JSON.parse(localStorage.getItem(LAST_KEY) ?? "{}"), position: "" };
  } catch {
    return EMPTY;
  }
}

function useList(url: string | null): Ref[] {
  const [items, setItems] = useState<Ref[]>([]);
  useEffect(() => {
    if (!url) return setItems([]);
    let live = true;
    api<Ref[]>("GET", url).then((a) => live && a.ok && setItems(a.body)).catch(() => {});
    return () => {
      live = false;
    };
  }, [url]);
  return items;
}

/** The registration flow island. */
export default function ScanFlow(props: ScanFlowProps) {
  const [step, setStep] = useState<Step>("mac");
  const [mac, setMac] = useState("");
  const [password, setPassword] = useState("");
  const [bootMac, setBootMac] = useState("");
  const [notice, setNotice] = useState("");
  const [loc, setLoc] = useState<Loc>(EMPTY);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [goError, setGoError] = useState("");
  const [busy, setBusy] = useState(false);
  const [outbox, setOutbox] = useState<OutboxItem[]>([]);
  const [elevation, setElevation] = useState<Elevation | null>(null);

  useEffect(() => setLoc(lastLocation()), []);

  // The visible queue, replayed on start, when the network returns and when the app is shown.
  useEffect(() => {
    const refresh = () => listOutbox().then(setOutbox).catch(() => {});
    const replay = () => navigator.onLine && replayOutbox().then(refresh).catch(() => {});
    refresh();
    replay();
    const off = onOutboxChange(refresh);
    const visible = () => document.visibilityState === "visible" && replay();
    addEventListener("online", replay);
    document.addEventListener("visibilitychange", visible);
    return () => {
      off();
      removeEventListener("online", replay);
      document.removeEventListener("visibilitychange", visible);
    };
  }, []);

  // Live step progress of the registration being followed.
  const followId = progress?.id;
  useEffect(() => {
    if (!followId) return;
    // Only while this registration is still the one on screen, and never an older snapshot.
    const show = (r: Progress) => setProgress((p) => p?.id === r.id ? newer(p, r) : p);
    const reload = () =>
      api<Progress>("GET", `/api/v1/servers/${followId}`).then((a) => {
        if (a.ok) show(a.body);
      }).catch(() => {});
    return subscribeEvents((e) => {
      if (e.type === "registration") {
        const r = e.registration as Progress;
        if (r.id === followId) show(r);
      } else if (e.type === "step" && e.id === followId) {
        setProgress((p) =>
          p && {
            ...p,
            steps: {
              ...p.steps,
              [e.step as string]: { status: e.status as string, message: e.message as string },
            },
          }
        );
      }
    }, reload);
  }, [followId]);

  const sites = useList(step === "location" ? "/api/v1/reference/sites" : null);
  const locations = useList(
    step === "location" && loc.site ? `/api/v1/reference/locations?site=${loc.site}` : null,
  );
  const racks = useList(
    step === "location" && loc.location ? `/api/v1/reference/racks?location=${loc.location}` : null,
  );
  const types = useList(step === "location" ? "/api/v1/reference/device-types" : null);
  const roles = useList(step === "location" ? "/api/v1/reference/device-roles" : null);
  const prefixes = useList(step === "location" ? "/api/v1/reference/prefixes" : null);
  const tenants = useList(step === "location" ? "/api/v1/reference/tenants" : null);
  // One site, or one hall in it (the usual case on a datacenter floor): chosen already.
  useEffect(() => {
    if (sites.length === 1 && !loc.site) setField("site", String(sites[0].id));
  }, [sites]);
  useEffect(() => {
    if (locations.length === 1 && !loc.location) setField("location", String(locations[0].id));
  }, [locations]);

  useEffect(() => {
    if (!loc.rack || step !== "location") return setElevation(null);
    api<Elevation>("GET", `/api/v1/reference/racks/${loc.rack}/elevation`)
      .then((a) => setElevation(a.ok ? a.body : null)).catch(() => setElevation(null));
  }, [loc.rack, step, progress?.status]);

  const macIssue = mac ? macProblem(mac) : null;
  // A MAC this service already registered is named at once, not only after Go.
  const [macOwner, setMacOwner] = useState<Progress | null>(null);
  const canonical = mac && !macIssue ? scannedMac(mac) : null;
  useEffect(() => {
    setMacOwner(null);
    if (!canonical) return;
    let live = true;
    api<{ items: (Progress & { bmc_mac: string })[] }>(
      "GET",
      `/api/v1/servers?q=${encodeURIComponent(canonical)}&limit=5`,
    ).then((a) => {
      const found = a.ok &&
        a.body.items.find((r) => r.bmc_mac === canonical && r.status !== "decommissioned");
      if (live && found) setMacOwner(found);
    }).catch(() => {});
    return () => {
      live = false;
    };
  }, [canonical]);
  const bootIssue = bootMac ? macProblem(bootMac) : null;
  const vendor = mac && !macIssue ? macVendor(mac) : null;
  const site = sites.find((s) => String(s.id) === loc.site);
  const rack = racks.find((r) => String(r.id) === loc.rack);
  const type = types.find((t) => String(t.id) === loc.device_type);
  const height = type?.u_height ?? 1;
  const position = /^\d+$/.test(loc.position.trim()) ? Number(loc.position) : 0;
  const positionIssue = loc.position.trim() !== "" && position < 1;
  const conflicts = elevation && position ? slotConflicts(elevation, position, height) : [];
  const overTop = rack && position ? position + height - 1 > (rack.u_height ?? 0) : false;
  const preview = site && rack && position
    ? deviceName({ site: site.slug ?? site.name, rack: rack.name, position }, props.template)
    : "";
  const locationReady = Boolean(
    loc.site && loc.location && loc.rack && position > 0 && loc.device_type && loc.device_role &&
      !conflicts.length && !overTop,
  );

  const setField = (k: keyof Loc, v: string) =>
    setLoc((l) => {
      const next = { ...l, [k]: v };
      if (k === "site") Object.assign(next, { location: "", rack: "", position: "" });
      if (k === "location") Object.assign(next, { rack: "", position: "" });
      if (k === "rack") next.position = "";
      return next;
    });

  const confirm = () => import("../client/scanner.ts").then((s) => s.confirmScan());
  const onMacCode = (value: string) => {
    const m = scannedMac(value);
    if (!m) return false; // Not a MAC (e.g. the password QR beside it): ignored.
    setMac(m);
    setNotice(`Scanned MAC ${m}`);
    confirm();
    forward("password");
    return true;
  };
  const onPasswordCode = (value: string) => {
    const p = scannedPassword(value);
    if (!p) return false; // A MAC (or noise) while the password is asked: ignored.
    if (p !== password) {
      setPassword(p);
      setNotice("Scanned the BMC password");
      confirm();
    }
    return true;
  };
  const onBootCode = (value: string) => {
    const m = scannedMac(value);
    if (!m || m === scannedMac(mac)) return false;
    setBootMac(m);
    confirm();
    return true;
  };

  const body = () => ({
    bmc_mac: mac,
    site: Number(loc.site),
    location: Number(loc.location),
    rack: Number(loc.rack),
    position,
    device_type: Number(loc.device_type),
    device_role: Number(loc.device_role),
    ...(loc.bmc_prefix ? { bmc_prefix: Number(loc.bmc_prefix) } : {}),
    ...(loc.tenant ? { tenant: Number(loc.tenant) } : {}),
    ...(bootMac ? { boot_mac: bootMac } : {}),
  });

  const queue = async () => {
    if (!props.outboxKey) {
      setGoError("Offline and no server key known yet: connect once, then try again.");
      return;
    }
    await queueRegistration(body(), password, props.outboxKey, preview);
    setGoError("");
    setNotice(`No network: ${preview} is queued and will be sent when the network returns.`);
    resetForNext();
  };

  const go = async () => {
    setBusy(true);
    setGoError("");
    const { position: _p, ...remember } = loc;
    localStorage.setItem(LAST_KEY, JSON.stringify(remember));
    try {
      if (!navigator.onLine) return await queue();
      const answer = await api<{ id: string; device_name: string; status: string }>(
        "POST",
        "/api/v1/servers/register",
        {
          body: { ...body(), bmc_password: password },
          headers: { "idempotency-key": crypto.randomUUID() },
        },
      );
      if (!answer.ok) return setGoError(errorMessage(answer));
      setPassword("");
      setProgress({
        id: answer.body.id,
        device_name: answer.body.device_name,
        status: answer.body.status,
        steps: Object.fromEntries(STEPS.map((s) => [s, { status: "pending" }])),
      });
      history.replaceState({ step: "go" }, "");
      setStep("go");
    } catch {
      await queue();
    } finally {
      setBusy(false);
    }
  };

  function resetForNext() {
    setMac("");
    setPassword("");
    setBootMac("");
    setProgress(null);
    setLoc((l) => ({ ...l, position: "" }));
    history.replaceState({ step: "mac" }, "");
    setStep("mac");
  }

  // The phone's back gesture walks back through the steps as the Back buttons do: each step
  // forward is a history entry. Going back from the results of Go starts the next server.
  const forward = (next: "password" | "location") => {
    history.pushState({ step: next }, "");
    setStep(next);
  };
  const entered = useRef({ mac, password, step });
  entered.current = { mac, password, step };
  useEffect(() => {
    history.replaceState({ step: "mac" }, "");
    const onPop = (e: PopStateEvent) => {
      if (entered.current.step === "go") return resetForNext();
      let target = (e.state as { step?: Step } | null)?.step ?? "mac";
      if (target === "go") target = "location";
      if (target === "location" && !entered.current.password) target = "password";
      if (target !== "mac" && !entered.current.mac) target = "mac";
      setStep(target);
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  const indicator = useMemo(() => ["mac", "password", "location", "go"].indexOf(step), [step]);

  // After a step change, focus its heading: screen readers announce it, keyboards start there.
  const shownStep = useRef(step);
  useEffect(() => {
    if (shownStep.current === step) return;
    shownStep.current = step;
    document.querySelector<HTMLElement>(`[data-step-title=${step}]`)?.focus();
  }, [step]);
  const macReady = Boolean(mac) && !macIssue;
  const passwordReady = Boolean(password) && password.length <= 128 && !bootIssue;
  // Enter (or a barcode scanner's trailing Enter) moves on when the step is complete.
  const submit = (ready: boolean, next: () => void) => (e: Event) => {
    e.preventDefault();
    if (ready) next();
  };
  const macNext = () => {
    setMac(scannedMac(mac) ?? mac);
    forward("password");
  };

  return (
    <div class="stack">
      <div class="steps-indicator" aria-hidden="true">
        {[0, 1, 2, 3].map((i) => <span key={i} class={i <= indicator ? "on" : ""} />)}
      </div>
      <p class="sr-only">Step {indicator + 1} of 4</p>
      {notice && <p class="hint" role="status" data-testid="notice">{notice}</p>}

      {step === "mac" && (
        <form class="card" aria-labelledby="mac-title" onSubmit={submit(macReady, macNext)}>
          <h1 id="mac-title" tabIndex={-1} data-step-title="mac">1 · BMC MAC</h1>
          <Camera wasmUrl={props.wasmUrl ?? ""} label="BMC MAC label" onCode={onMacCode} />
          <label for="bmc-mac">BMC MAC</label>
          <input
            id="bmc-mac"
            name="bmc_mac"
            autoComplete="off"
            autoCapitalize="characters"
            spellcheck={false}
            value={mac}
            aria-invalid={macIssue ? "true" : "false"}
            aria-describedby="mac-help"
            onInput={(e) =>
              setMac(e.currentTarget.value)}
          />
          <p id="mac-help" class={macIssue ? "error" : "hint"} data-testid="mac-result">
            {macIssue
              ? MAC_MESSAGES[macIssue]
              : mac
              ? `${scannedMac(mac)} · ${vendor ?? "unknown vendor"}`
              : "Scan the BMC/IPMI MAC label or type it."}
          </p>
          {macOwner && (
            <p class="hint" data-testid="mac-owner">
              Already registered as <a href={`/servers/${macOwner.id}`}>{macOwner.device_name}</a>
              {" "}
              ({macOwner.status}).
            </p>
          )}
          <div class="actions">
            <button type="submit" class="primary" disabled={!macReady}>Next</button>
          </div>
        </form>
      )}

      {step === "password" && (
        <form
          class="card"
          aria-labelledby="pw-title"
          onSubmit={submit(passwordReady, () => forward("location"))}
        >
          <h1 id="pw-title" tabIndex={-1} data-step-title="password">2 · BMC password</h1>
          <p class="hint">
            MAC <span class="value">{mac}</span> {vendor && `· ${vendor}`}
          </p>
          <Camera
            wasmUrl={props.wasmUrl ?? ""}
            label="BMC password label"
            onCode={onPasswordCode}
          />
          <label for="bmc-password">BMC password</label>
          <input
            id="bmc-password"
            name="bmc_password"
            type="password"
            autoComplete="off"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          <label for="boot-mac">Boot NIC MAC (optional)</label>
          <input
            id="boot-mac"
            name="boot_mac"
            autoComplete="off"
            value={bootMac}
            aria-invalid={bootIssue ? "true" : "false"}
            onInput={(e) => setBootMac(e.currentTarget.value)}
          />
          {bootIssue && <p class="error">{MAC_MESSAGES[bootIssue]}</p>}
          {!bootMac && (
            <details>
              <summary class="hint">Scan the boot NIC MAC</summary>
              <Camera wasmUrl={props.wasmUrl ?? ""} label="boot NIC MAC" onCode={onBootCode} />
            </details>
          )}
          <div class="actions">
            <button type="button" onClick={() => history.back()}>Back</button>
            <button type="submit" class="primary" disabled={!passwordReady}>Next</button>
          </div>
        </form>
      )}

      {step === "location" && (
        <section class="card" aria-labelledby="loc-title">
          <h1 id="loc-title" tabIndex={-1} data-step-title="location">3 · Location</h1>
          <div class="grid2">
            <Select
              label="Site"
              id="site"
              value={loc.site}
              items={sites}
              onChange={(v) => setField("site", v)}
            />
            <Select
              label="Location"
              id="location"
              value={loc.location}
              items={locations}
              onChange={(v) => setField("location", v)}
            />
            <Select
              label="Rack"
              id="rack"
              value={loc.rack}
              items={racks}
              onChange={(v) => setField("rack", v)}
            />
            <div>
              <label for="position">U position</label>
              <input
                id="position"
                type="number"
                inputMode="numeric"
                min={1}
                max={rack?.u_height ?? 60}
                value={loc.position}
                onInput={(e) => setField("position", e.currentTarget.value)}
              />
            </div>
            <Select
              label="Device type"
              id="device_type"
              value={loc.device_type}
              items={types}
              onChange={(v) => setField("device_type", v)}
            />
            <Select
              label="Role"
              id="device_role"
              value={loc.device_role}
              items={roles}
              onChange={(v) => setField("device_role", v)}
            />
            <Select
              label="BMC prefix"
              id="bmc_prefix"
              value={loc.bmc_prefix}
              items={prefixes}
              optional
              onChange={(v) => setField("bmc_prefix", v)}
            />
            <Select
              label="Tenant"
              id="tenant"
              value={loc.tenant}
              items={tenants}
              optional
              onChange={(v) => setField("tenant", v)}
            />
          </div>
          {preview && (
            <p>
              Device name: <span class="preview" data-testid="name-preview">{preview}</span>
            </p>
          )}
          {conflicts.length > 0 && (
            <p class="error" role="alert">
              U{targetUnits(position, height).join("–U")} is occupied by{" "}
              {conflicts.join(", ")}: pick a free unit.
            </p>
          )}
          {positionIssue && (
            <p class="error" role="alert">The U position is a whole number from 1.</p>
          )}
          {overTop && <p class="error" role="alert">The device does not fit below the rack top.</p>}
          {elevation && (
            <RackElevation
              elevation={elevation}
              position={position}
              height={height}
              onPick={(u) => setField("position", String(u))}
            />
          )}
          {goError && <p class="error" role="alert" data-testid="go-error">{goError}</p>}
          <div class="actions">
            <button type="button" onClick={() => history.back()}>Back</button>
            <button type="button" class="primary" disabled={!locationReady || busy} onClick={go}>
              Go
            </button>
          </div>
        </section>
      )}

      {step === "go" && progress && (
        <section class="card" aria-labelledby="go-title">
          <h1 id="go-title" tabIndex={-1} data-step-title="go">4 · {progress.device_name}</h1>
          <p>
            Status:{" "}
            <span class={`pill st-${progress.status}`} data-testid="reg-status">
              {progress.status}
            </span>
          </p>
          <ul class="steplist" aria-live="polite">
            {STEPS.map((s) => {
              const v = progress.steps?.[s] ?? { status: "pending" };
              return (
                <li key={s} data-step={s} data-status={v.status}>
                  <span>{s}</span>
                  <span class={`pill st-${v.status}`}>{v.status}</span>
                  {v.message && <span class="msg">{v.message}</span>}
                </li>
              );
            })}
          </ul>
          {goError && <p class="error" role="alert">{goError}</p>}
          {TERMINAL.has(progress.status) && (
            <RetryForm
              registration={progress}
              wasmUrl={props.wasmUrl}
              onResult={(error) => {
                setGoError(error);
                if (error) return;
                // Re-read: the retried run may already be over (its events came before this
                // answer), so only a newer snapshot replaces what is shown.
                api<Progress>("GET", `/api/v1/servers/${progress.id}`).then((a) => {
                  if (a.ok) setProgress((p) => p?.id === a.body.id ? newer(p, a.body) : p);
                }).catch(() => {});
              }}
            />
          )}
          <div class="actions">
            <a class="button" href={`/servers/${progress.id}`}>Details</a>
            {TERMINAL.has(progress.status) && (
              <button type="button" class="primary" onClick={resetForNext}>Next server</button>
            )}
          </div>
        </section>
      )}

      {outbox.length > 0 && (
        <section class="card outbox" aria-labelledby="outbox-title" data-testid="outbox">
          <h2 id="outbox-title">Waiting to send ({outbox.length})</h2>
          <ul class="steplist">
            {outbox.map((item) => (
              <li key={item.id}>
                <span>{item.device_name || String(item.payload.bmc_mac)}</span>
                <span class={`pill st-${item.status === "pending" ? "queued" : "failed"}`}>
                  {item.status === "pending" ? "queued" : "needs attention"}
                </span>
                {item.lastError && <span class="msg">{item.lastError}</span>}
                {item.status === "attention" && (
                  <button
                    type="button"
                    onClick={() => removeOutboxItem(item.id)}
                  >
                    Discard
                  </button>
                )}
              </li>
            ))}
          </ul>
          <button
            type="button"
            onClick={() =>
              replayOutbox()}
          >
            Send now
          </button>
        </section>
      )}
    </div>
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
