/** Step 1: the BMC MAC, scanned or typed, and who holds it already. */
import { MAC_MESSAGES } from "../../lib/domain/mac.ts";
import { useState } from "preact/hooks";
import { scannedMac, scannedPassword } from "../../client/scan_payload.ts";
import { Camera } from "../camera.tsx";
import { confirmScan, type Holders, type Notice, submit } from "./model.ts";
import type { MacCheck } from "./use_mac_check.ts";

export function MacStep(
  props: {
    check: MacCheck;
    wasmUrl: string;
    cameraOn: boolean;
    notify: (notice: Notice | null) => void;
    /** A MAC came from the camera: it stays open for the password. */
    onScanned: () => void;
    onNext: () => void;
  },
) {
  const { mac, setMac, macIssue, canonical, vendor, macHeld, holders } = props.check;
  const macReady = Boolean(mac) && !macIssue && !macHeld;
  // Changes when the camera must open afresh (Rescan).
  const [rescans, setRescans] = useState(0);
  const onCode = (value: string) => {
    const m = scannedMac(value);
    if (!m) {
      if (scannedPassword(value)) {
        props.notify({ text: "That is the password label; scan the MAC label.", step: "mac" });
      }
      return false;
    }
    if (m === canonical) return true; // still in view: already taken (or being checked)
    setMac(m);
    props.notify({ text: `Scanned MAC ${m}`, step: "password" });
    props.onScanned();
    props.check.advanceWhenFree(m);
    confirmScan();
    return true;
  };
  const rescan = () => {
    props.check.clear();
    props.notify(null);
    props.onScanned();
    setRescans((n) => n + 1);
  };
  return (
    <form class="card" aria-labelledby="mac-title" onSubmit={submit(macReady, props.onNext)}>
      <h1 id="mac-title" tabIndex={-1} data-step-title="mac">1 · BMC MAC</h1>
      <Camera
        key={rescans}
        wasmUrl={props.wasmUrl}
        label="BMC MAC label"
        autoOpen={props.cameraOn}
        onCode={onCode}
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
        onInput={(e) => setMac(e.currentTarget.value)}
        onBlur={() => canonical && setMac(canonical)}
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
