/**
 * Scan → Location → Go: the technician's registration flow. Scans (or types) the BMC MAC and
 * password, picks the rack slot on an elevation drawing (the next free unit above the last one
 * suggested), registers and follows the steps live; offline, the registration is queued in the
 * outbox with its password encrypted. Made for one gloved hand: 44 px targets, the step's main
 * button always on screen.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { MAC_MESSAGES, macProblem, macVendor } from "../lib/domain/mac.ts";
import { deviceName } from "../lib/domain/names.ts";
import { api, errorMessage, newer, subscribeEvents } from "../client/api.ts";
import { Camera } from "../components/camera.tsx";
import { createdRows } from "../client/format.ts";
import { RetryForm, type RetryTarget } from "../components/retry_form.tsx";
import { scannedMac, scannedPassword } from "../client/scan_payload.ts";
import {
  type Elevation,
  nextFree,
  RackElevation,
  slotConflicts,
  suggestPosition,
  targetUnits,
} from "../components/rack_elevation.tsx";
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
  /** NETBOX_URL, for links to the Netbox objects made. */
  netboxUrl?: string;
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
  created?: Record<string, unknown>;
  updated_at?: string;
  boot_mac?: string;
  bmc?: RetryTarget["bmc"];
}
/** Who already holds a BMC MAC (`GET /api/v1/macs/:mac`). */
interface Holders {
  bmc_mac: string;
  registration: { id: string; device_name: string; status: string } | null;
  netbox_devices: { id: number; name: string; url?: string }[];
  kea_reservations: { hostname?: string; ip: string; subnet_id: number }[];
}
const held = (h: Holders | null) =>
  Boolean(h && (h.registration || h.netbox_devices.length || h.kea_reservations.length));

const STEPS = ["netbox", "openbao", "kea", "metal3"];
const STEP_NAMES: Record<string, string> = {
  netbox: "Netbox",
  openbao: "OpenBao",
  kea: "DHCP (Kea)",
  metal3: "Metal3",
};
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
/** The unit last registered to: `{rack, position, height}`, for the next suggestion. */
const LAST_UNIT_KEY = "onboarding.lastUnit";
const TERMINAL = new Set(["ok", "failed", "blocked", "decommissioned"]);

function lastLocation(): Loc {
  try {
    return { ...EMPTY, ...JSON.parse(localStorage.getItem(LAST_KEY) ?? "{}"), position: "" };
  } catch {
    return EMPTY;
  }
}

function lastUnit(rack: string): { position: number; height: number } | null {
  try {
    const v = JSON.parse(localStorage.getItem(LAST_UNIT_KEY) ?? "null");
    return v?.rack === rack ? v : null;
  } catch {
    return null;
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
  const [showPassword, setShowPassword] = useState(false);
  const [bootMac, setBootMac] = useState("");
  // A notice belongs to one step and disappears when the flow moves on.
  const [notice, setNotice] = useState<{ text: string; step: Step } | null>(null);
  const [loc, setLoc] = useState<Loc>(EMPTY);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [goError, setGoError] = useState("");
  const [busy, setBusy] = useState(false);
  const [outbox, setOutbox] = useState<OutboxItem[]>([]);
  const [sent, setSent] = useState<{ id: string; device_name: string }[]>([]);
  const [elevation, setElevation] = useState<Elevation | null>(null);
  // The camera stays open from the MAC to the password when the MAC came from it.
  const [cameraOn, setCameraOn] = useState(false);
  const [rescans, setRescans] = useState(0);

  useEffect(() => setLoc(lastLocation()), []);

  // The visible queue, replayed on start, when the network returns and when the app is shown;
  // what a replay registered is said, with a link.
  useEffect(() => {
    const refresh = () => listOutbox().then(setOutbox).catch(() => {});
    const replay = () =>
      navigator.onLine && replayOutbox().then((results) => {
        const done = results.filter((r) => r.answer?.ok).map((r) => r.answer!.body);
        if (done.length) setSent(done.map((b) => ({ id: b.id, device_name: b.device_name })));
        return refresh();
      }).catch(() => {});
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

  // The references load from the first screen: the remembered location is shown there by name.
  const sites = useList("/api/v1/reference/sites");
  const locations = useList(loc.site ? `/api/v1/reference/locations?site=${loc.site}` : null);
  const racks = useList(loc.location ? `/api/v1/reference/racks?location=${loc.location}` : null);
  const types = useList("/api/v1/reference/device-types");
  const roles = useList("/api/v1/reference/device-roles");
  const prefixes = useList(step === "location" ? "/api/v1/reference/prefixes" : null);
  const tenants = useList(step === "location" ? "/api/v1/reference/tenants" : null);
  // One site, or one hall in it (the usual case on a datacenter floor): chosen already.
  useEffect(() => {
    if (sites.length === 1 && !loc.site) setField("site", String(sites[0].id));
  }, [sites]);
  useEffect(() => {
    if (locations.length === 1 && !loc.location) setField("location", String(locations[0].id));
  }, [locations]);

  // Read again when the flow comes back to the scan or the rack: the last server is in it now.
  const elevationStep = step === "mac" || step === "location";
  useEffect(() => {
    if (!loc.rack || !elevationStep) return;
    let live = true;
    api<Elevation>("GET", `/api/v1/reference/racks/${loc.rack}/elevation`)
      .then((a) => live && setElevation(a.ok ? a.body : null))
      .catch(() => live && setElevation(null));
    return () => {
      live = false;
    };
  }, [loc.rack, elevationStep]);

  const macIssue = mac ? macProblem(mac) : null;
  const canonical = mac && !macIssue ? scannedMac(mac) : null;
  // Who already holds this MAC (this service, Netbox, Kea): asked at once, so a MAC in use stops
  // here and not after Go. A scanned MAC moves on once the answer says it is free (or none comes).
  const [holders, setHolders] = useState<Holders | null>(null);
  const advanceWhenFree = useRef<string | null>(null);
  useEffect(() => {
    setHolders(null);
    if (!canonical) return;
    let live = true;
    const answer = (h: Holders | null) => {
      if (!live) return;
      setHolders(h);
      if (advanceWhenFree.current === canonical) {
        advanceWhenFree.current = null;
        if (!held(h)) forward("password");
      }
    };
    api<Holders>("GET", `/api/v1/macs/${encodeURIComponent(canonical)}`)
      .then((a) => answer(a.ok ? a.body : null)).catch(() => answer(null));
    return () => {
      live = false;
    };
  }, [canonical]);
  const macHeld = held(holders) && holders?.bmc_mac === canonical;

  const bootIssue = bootMac ? macProblem(bootMac) : null;
  const vendor = mac && !macIssue ? macVendor(mac) : null;
  const site = sites.find((s) => String(s.id) === loc.site);
  const location = locations.find((l) => String(l.id) === loc.location);
  const rack = racks.find((r) => String(r.id) === loc.rack);
  const type = types.find((t) => String(t.id) === loc.device_type);
  const height = type?.u_height ?? 1;
  const position = /^\d+$/.test(loc.position.trim()) ? Number(loc.position) : 0;
  const positionIssue = loc.position.trim() !== "" && position < 1;
  const rackElevation = elevation && String(elevation.rack.id) === loc.rack ? elevation : null;
  const conflicts = rackElevation && position ? slotConflicts(rackElevation, position, height) : [];
  const overTop = rack && position ? position + height - 1 > (rack.u_height ?? 0) : false;
  const preview = site && rack && position
    ? deviceName({ site: site.slug ?? site.name, rack: rack.name, position }, props.template)
    : "";
  const last = loc.rack ? lastUnit(loc.rack) : null;
  const suggested = rackElevation ? suggestPosition(rackElevation, height, last) : null;
  // No unit chosen yet for this rack: take the suggestion (shown, and changeable).
  useEffect(() => {
    if (!loc.position && suggested) {
      setLoc((l) => l.position ? l : { ...l, position: String(suggested) });
    }
  }, [suggested, loc.position]);

  const macReady = Boolean(mac) && !macIssue && !macHeld;
  const passwordReady = Boolean(password) && password.length <= 128 && !bootIssue;
  const missing = [
    !(Boolean(mac) && !macIssue) && "BMC MAC",
    !password && "BMC password",
    !loc.site && "site",
    !loc.location && "location",
    !loc.rack && "rack",
    !(position > 0) && "U position",
    !loc.device_type && "device type",
    !loc.device_role && "role",
  ].filter((m): m is string => Boolean(m));
  const goBlocker = missing.length
    ? `Missing: ${missing.join(", ")}`
    : conflicts.length
    ? `U${position} is taken: pick a free unit`
    : overTop
    ? "The device does not fit below the rack top"
    : macHeld
    ? "This BMC MAC is already in use"
    : "";

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
    if (!m) {
      if (scannedPassword(value)) {
        setNotice({ text: "That is the password label; scan the MAC label.", step: "mac" });
      }
      return false;
    }
    if (m === canonical) return true; // still in view: already taken (or being checked)
    setMac(m);
    setNotice({ text: `Scanned MAC ${m}`, step: "password" });
    setCameraOn(true);
    advanceWhenFree.current = m;
    confirm();
    return true;
  };
  const onPasswordCode = (value: string) => {
    const p = scannedPassword(value);
    if (!p) {
      const m = scannedMac(value);
      if (m && m !== canonical && m !== scannedMac(bootMac)) {
        setNotice({ text: "That is a MAC label; scan the password label.", step: "password" });
      }
      return false;
    }
    setPassword(p);
    setCameraOn(false);
    confirm();
    if (!bootIssue) {
      setNotice({ text: "Scanned the BMC password", step: "location" });
      forward("location");
    }
    return true;
  };
  const onBootCode = (value: string) => {
    const m = scannedMac(value);
    if (!m || m === canonical) return false;
    setBootMac(m);
    confirm();
    return true;
  };
  const rescan = () => {
    setMac("");
    setHolders(null);
    setNotice(null);
    setCameraOn(true);
    setRescans((n) => n + 1);
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
    setNotice({
      text: `No network: ${preview} is queued and will be sent when the network returns.`,
      step: "mac",
    });
    resetForNext();
  };

  const go = async () => {
    setBusy(true);
    setGoError("");
    const { position: _p, ...remember } = loc;
    localStorage.setItem(LAST_KEY, JSON.stringify(remember));
    localStorage.setItem(LAST_UNIT_KEY, JSON.stringify({ rack: loc.rack, position, height }));
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
    setShowPassword(false);
    setBootMac("");
    setProgress(null);
    setGoError("");
    setCameraOn(false);
    setLoc((l) => ({ ...l, position: "" }));
    history.replaceState({ step: "mac" }, "");
    setStep("mac");
  }

  // The phone's back gesture walks back through the steps as the Back buttons do: each step
  // forward is a history entry. Going back from the results of Go starts the next server.
  function forward(next: "password" | "location") {
    history.pushState({ step: next }, "");
    setSent([]); // what the queue sent was said; the next server is under way
    setStep(next);
  }
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
  // Enter (or a barcode scanner's trailing Enter) moves on when the step is complete.
  const submit = (ready: boolean, next: () => void) => (e: Event) => {
    e.preventDefault();
    if (ready) next();
  };
  const macNext = () => {
    setMac(scannedMac(mac) ?? mac);
    forward("password");
  };

  const where = site && location && rack
    ? [site.name, location.name, rack.name, position ? `U${position}` : "U?"].join(" · ")
    : "";
  const failed = progress && (progress.status === "failed" || progress.status === "blocked");
  const failedStep = progress &&
    STEPS.map((s) => progress.steps?.[s]).find((v) =>
      v?.status === "failed" || v?.status === "blocked"
    );
  const created = progress?.created ? createdRows(progress.created, props.netboxUrl) : [];
  const retryForm = progress && (
    <RetryForm
      registration={progress}
      wasmUrl={props.wasmUrl}
      onResult={(error) => {
        setGoError(error);
        if (error) return;
        // Re-read: the retried run may already be over (its events came before this answer),
        // so only a newer snapshot replaces what is shown.
        api<Progress>("GET", `/api/v1/servers/${progress.id}`).then((a) => {
          if (a.ok) setProgress((p) => p?.id === a.body.id ? newer(p, a.body) : p);
        }).catch(() => {});
      }}
    />
  );

  return (
    <div class="stack">
      <div class="steps-indicator" aria-hidden="true">
        {[0, 1, 2, 3].map((i) => <span key={i} class={i <= indicator ? "on" : ""} />)}
      </div>
      <p class="sr-only">Step {indicator + 1} of 4</p>
      {(step === "mac" || step === "password") && (
        <div class="where" data-testid="where">
          <p>
            {where
              ? (
                <>
                  Registering to <strong>{where}</strong>
                </>
              )
              : "No rack chosen yet"}
          </p>
          <button type="button" onClick={() => forward("location")}>
            {where ? "Change" : "Choose"}
          </button>
        </div>
      )}
      {notice?.step === step && <p class="hint" role="status" data-testid="notice">{notice.text}
      </p>}
      {sent.length > 0 && (
        <div class="card sent" role="status" data-testid="sent">
          {sent.map((s) => (
            <p key={s.id}>
              <a class="button" href={`/servers/${s.id}`}>{s.device_name} registered</a>
            </p>
          ))}
        </div>
      )}

      {step === "mac" && (
        <form class="card" aria-labelledby="mac-title" onSubmit={submit(macReady, macNext)}>
          <h1 id="mac-title" tabIndex={-1} data-step-title="mac">1 · BMC MAC</h1>
          <Camera
            key={rescans}
            wasmUrl={props.wasmUrl ?? ""}
            label="BMC MAC label"
            autoOpen={cameraOn}
            onCode={onMacCode}
          />
          <label for="bmc-mac">BMC MAC</label>
          <input
            id="bmc-mac"
            name="bmc_mac"
            autoComplete="off"
            autoCapitalize="characters"
            spellcheck={false}
            value={mac}
            aria-invalid={macIssue || macHeld ? "true" : "false"}
            aria-describedby="mac-help"
            onInput={(e) =>
              setMac(e.currentTarget.value)}
            onBlur={() =>
              canonical && setMac(canonical)}
          />
          <p id="mac-help" class={macIssue ? "error" : "hint"} data-testid="mac-result">
            {macIssue
              ? MAC_MESSAGES[macIssue]
              : mac
              ? `${canonical} · ${vendor ?? "unknown vendor"}`
              : "Scan the BMC/IPMI MAC label or type it."}
          </p>
          {macHeld && holders && <MacInUse holders={holders} />}
          <div class="actions sticky">
            {macHeld
              ? <button type="button" class="primary" onClick={rescan}>Rescan</button>
              : <button type="submit" class="primary" disabled={!macReady}>Next</button>}
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
            autoOpen={cameraOn}
            onCode={onPasswordCode}
          />
          <label for="bmc-password">BMC password</label>
          <div class="field-buttons">
            <input
              id="bmc-password"
              name="bmc_password"
              type={showPassword ? "text" : "password"}
              autoComplete="off"
              spellcheck={false}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
            <button
              type="button"
              aria-pressed={showPassword}
              onClick={() => setShowPassword(!showPassword)}
            >
              {showPassword ? "Hide" : "Show"}
            </button>
            <button
              type="button"
              aria-label="Clear the password"
              disabled={!password}
              onClick={() => setPassword("")}
            >
              Clear
            </button>
          </div>
          <label for="boot-mac">Boot NIC MAC (optional)</label>
          <input
            id="boot-mac"
            name="boot_mac"
            autoComplete="off"
            value={bootMac}
            aria-invalid={bootIssue ? "true" : "false"}
            onInput={(e) => setBootMac(e.currentTarget.value)}
            onBlur={() => scannedMac(bootMac) && setBootMac(scannedMac(bootMac)!)}
          />
          {bootIssue && <p class="error">{MAC_MESSAGES[bootIssue]}</p>}
          {!bootMac && (
            <details>
              <summary>Scan the boot NIC MAC</summary>
              <Camera wasmUrl={props.wasmUrl ?? ""} label="boot NIC MAC" onCode={onBootCode} />
            </details>
          )}
          <div class="actions sticky">
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
            <Select
              label="Device type"
              id="device_type"
              value={loc.device_type}
              items={types}
              onChange={(v) => setField("device_type", v)}
            />
          </div>
          <label for="position">U position</label>
          <div class="stepper">
            <button
              type="button"
              aria-label="Next free unit below"
              disabled={!rackElevation || position <= 1}
              onClick={() => {
                const u = rackElevation && nextFree(rackElevation, position - 1, height, -1);
                if (u) setField("position", String(u));
              }}
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
              onClick={() => {
                const u = rackElevation && nextFree(rackElevation, position + 1, height, 1);
                if (u) setField("position", String(u));
              }}
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
          {positionIssue && (
            <p class="error" role="alert">The U position is a whole number from 1.</p>
          )}
          {overTop && <p class="error" role="alert">The device does not fit below the rack top.</p>}
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
          {goError && <p class="error" role="alert" data-testid="go-error">{goError}</p>}
          <div class="actions sticky">
            <button type="button" onClick={() => history.back()}>Back</button>
            {mac && password
              ? (
                <button
                  type="button"
                  class="primary"
                  disabled={Boolean(goBlocker) || busy}
                  aria-describedby={goBlocker ? "go-missing" : undefined}
                  onClick={go}
                >
                  Go
                </button>
              )
              : (
                <button type="button" class="primary" onClick={() => history.back()}>
                  Done
                </button>
              )}
            {mac && password && goBlocker && (
              <p id="go-missing" class="hint" data-testid="go-missing">{goBlocker}</p>
            )}
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
          {failed && (
            <div class="failure" data-testid="failure">
              <p class="error" role="alert">
                {failedStep?.message ?? progress.error ?? "The registration did not complete"}
              </p>
              {retryForm}
            </div>
          )}
          {goError && <p class="error" role="alert">{goError}</p>}
          <ul class="steplist" aria-live="polite">
            {STEPS.map((s) => {
              const v = progress.steps?.[s] ?? { status: "pending" };
              return (
                <li key={s} data-step={s} data-status={v.status}>
                  <span>{STEP_NAMES[s]}</span>
                  <span class={`pill st-${v.status}`}>{v.status}</span>
                  {v.message && <span class="msg">{v.message}</span>}
                </li>
              );
            })}
          </ul>
          {/* Done, but created without a boot MAC: it can be added now (the form says so). */}
          {!failed && TERMINAL.has(progress.status) && retryForm}
          {created.length > 0 && (
            <details>
              <summary>Details</summary>
              <dl class="kv">
                {created.map((c) => (
                  <>
                    <dt key={`k${c.label}`}>{c.label}</dt>
                    <dd key={`v${c.label}`}>
                      {c.href ? <a class="button" href={c.href}>{c.value}</a> : c.value}
                    </dd>
                  </>
                ))}
              </dl>
            </details>
          )}
          <div class="actions sticky">
            <a class="button" href={`/servers/${progress.id}`}>Open server</a>
            {TERMINAL.has(progress.status) && (
              <button type="button" class={failed ? "" : "primary"} onClick={resetForNext}>
                Next server
              </button>
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
              replayOutbox().then((results) => {
                const done = results.filter((r) =>
                  r.answer?.ok
                ).map((r) =>
                  r.answer!.body
                );
                if (done.length) setSent(done);
              }).catch(() => {})}
          >
            Send now
          </button>
        </section>
      )}
    </div>
  );
}

/** A BMC MAC someone already holds: who, and what to do (rescan, or open that server). */
function MacInUse(props: { holders: Holders }) {
  const { registration, netbox_devices, kea_reservations } = props.holders;
  const link = registration
    ? { href: `/servers/${registration.id}`, text: `Open ${registration.device_name}` }
    : netbox_devices[0]?.url
    ? { href: netbox_devices[0].url, text: `Open ${netbox_devices[0].name} in Netbox` }
    : null;
  return (
    <div class="in-use" role="alert" data-testid="mac-owner">
      <p class="error">
        {registration
          ? `This MAC is already registered as ${registration.device_name} (${registration.status}).`
          : netbox_devices.length
          ? `Netbox already has this MAC on ${netbox_devices.map((d) => d.name).join(", ")}.`
          : `Kea already reserves ${
            kea_reservations.map((k) => `${k.ip} for ${k.hostname ?? "another host"}`).join(", ")
          } with this MAC.`} Rescan the right label{link ? ", or open that server" : ""}.
      </p>
      {link && <a class="button" href={link.href}>{link.text}</a>}
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
