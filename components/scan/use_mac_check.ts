/**
 * The BMC MAC typed or scanned, and who already holds it (this service, Netbox, Kea): asked at
 * once, so a MAC in use stops at the first step and not after Go.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { macProblem, macVendor } from "../../lib/domain/mac.ts";
import { api } from "../../client/api.ts";
import { scannedMac } from "../../client/scan_payload.ts";
import { held, type Holders } from "./model.ts";

/** `onFree` runs when a MAC passed to `advanceWhenFree` turns out free (or no answer comes). */
export function useMacCheck(onFree: () => void) {
  const [mac, setMac] = useState("");
  const macIssue = mac ? macProblem(mac) : null;
  const canonical = mac && !macIssue ? scannedMac(mac) : null;
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
        if (!held(h)) onFree();
      }
    };
    api<Holders>("GET", `/api/v1/macs/${encodeURIComponent(canonical)}`)
      .then((a) => answer(a.ok ? a.body : null)).catch(() => answer(null));
    return () => {
      live = false;
    };
  }, [canonical]);
  const macHeld = held(holders) && holders?.bmc_mac === canonical;
  return {
    mac,
    setMac,
    macIssue,
    canonical,
    vendor: mac && !macIssue ? macVendor(mac) : null,
    holders,
    macHeld,
    /** A scanned MAC moves the flow on once the answer says it is free. */
    advanceWhenFree: (m: string) => advanceWhenFree.current = m,
    clear: () => {
      setMac("");
      setHolders(null);
    },
  };
}

export type MacCheck = ReturnType<typeof useMacCheck>;
