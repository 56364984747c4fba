/** Types, constants and browser-storage helpers the scan flow's steps share. */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../client/api.ts";
import type { RetryTarget } from "../retry_form.tsx";
import type { StepView } from "../registration.tsx";

export type Step = "mac" | "password" | "location" | "go";

/** A reference-data entry (site, rack, device type, prefix, …). */
export interface Ref {
  id: number;
  name: string;
  slug?: string;
  u_height?: number;
  prefix?: string;
}

/** The location fields of the form, as the selects hold them (ids as strings). */
export interface Loc {
  site: string;
  location: string;
  rack: string;
  position: string;
  device_type: string;
  device_role: string;
  bmc_prefix: string;
  tenant: string;
}

/** The registration being followed after Go. */
export interface Progress {
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
export interface Holders {
  bmc_mac: string;
  registration: { id: string; device_name: string; status: string } | null;
  netbox_devices: { id: number; name: string; url?: string }[];
  kea_reservations: { hostname?: string; ip: string; subnet_id: number }[];
}

export const held = (h: Holders | null) =>
  Boolean(h && (h.registration || h.netbox_devices.length || h.kea_reservations.length));

export const STEPS = ["netbox", "openbao", "kea", "metal3"];
export const STEP_NAMES: Record<string, string> = {
  netbox: "Netbox",
  openbao: "OpenBao",
  kea: "DHCP (Kea)",
  metal3: "Metal3",
};

export const EMPTY: Loc = {
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

export function lastLocation(): Loc {
  try {
    return { ...EMPTY, ...JSON.parse(localStorage.getItem(LAST_KEY) ?? "{}"), position: "" };
  } catch {
    return EMPTY;
  }
}

export function lastUnit(rack: string): { position: number; height: number } | null {
  try {
    const v = JSON.parse(localStorage.getItem(LAST_UNIT_KEY) ?? "null");
    return v?.rack === rack ? v : null;
  } catch {
    return null;
  }
}

/** Remembers the location (not the unit) and the unit registered to, for the next server. */
export function rememberLocation(loc: Loc, position: number, height: number): void {
  const { position: _p, ...remember } = loc;
  localStorage.setItem(LAST_KEY, JSON.stringify(remember));
  localStorage.setItem(LAST_UNIT_KEY, JSON.stringify({ rack: loc.rack, position, height }));
}

/**
 * `useEffect` whose work waits until the browser is idle. What the flow starts on mount (reference
 * reads, the outbox, the remembered location) then runs after a first keystroke has been answered
 * rather than in its task: Preact runs pending effects before the re-render a keystroke causes.
 */
export function useIdleEffect(effect: () => void | (() => void), deps: unknown[]): void {
  useEffect(() => {
    let cleanup: void | (() => void);
    const run = () => cleanup = effect();
    // Safari has no requestIdleCallback: the next task, still apart from the keystroke's.
    const cancel = "requestIdleCallback" in globalThis
      ? cancelIdleCallback.bind(null, requestIdleCallback(run, { timeout: 1000 }))
      : clearTimeout.bind(null, setTimeout(run, 0));
    return () => {
      cancel();
      cleanup?.();
    };
  }, deps);
}

/** A reference list, read when `url` is set (once the browser is idle). */
export function useList(url: string | null): Ref[] {
  const [items, setItems] = useState<Ref[]>([]);
  useIdleEffect(() => {
    if (!url) return setItems([]);
    let live = true;
    api<Ref[]>("GET", url).then((a) => live && a.ok && setItems(a.body)).catch(() => {});
    return () => {
      live = false;
    };
  }, [url]);
  return items;
}

/** Why Go cannot be pressed yet (empty when it can). */
export function goBlocker(
  f: {
    macOk: boolean;
    macHeld: boolean;
    password: string;
    loc: Loc;
    position: number;
    conflicts: string[];
    overTop: boolean;
  },
): string {
  const missing = [
    !f.macOk && "BMC MAC",
    !f.password && "BMC password",
    !f.loc.site && "site",
    !f.loc.location && "location",
    !f.loc.rack && "rack",
    !(f.position > 0) && "U position",
    !f.loc.device_type && "device type",
    !f.loc.device_role && "role",
  ].filter((m): m is string => Boolean(m));
  if (missing.length) return `Missing: ${missing.join(", ")}`;
  if (f.conflicts.length) return `U${f.position} is taken: pick a free unit`;
  if (f.overTop) return "The device does not fit below the rack top";
  return f.macHeld ? "This BMC MAC is already in use" : "";
}

/** The registration request (without the password) for the form's values. */
export function registrationBody(mac: string, loc: Loc, position: number, bootMac: string) {
  return {
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
  };
}

/** A line of feedback that belongs to one step and disappears when the flow moves on. */
export interface Notice {
  text: string;
  step: Step;
}

/** Tells the scanner a code was taken (a beep and a vibration). */
export const confirmScan = () => import("../../client/scanner.ts").then((s) => s.confirmScan());

/** Enter (or a barcode scanner's trailing Enter) moves on when the step is complete. */
export const submit = (ready: boolean, next: () => void) => (e: Event) => {
  e.preventDefault();
  if (ready) next();
};
