/** Step 2: the BMC password (scanned or typed) and, optionally, the boot NIC MAC. */
import { useState } from "preact/hooks";
import { MAC_MESSAGES, macProblem } from "../../lib/domain/mac.ts";
import { scannedMac, scannedPassword } from "../../client/scan_payload.ts";
import { Camera } from "../camera.tsx";
import { confirmScan, type Notice, submit } from "./model.ts";

export function PasswordStep(
  props: {
    mac: string;
    vendor: string | null;
    wasmUrl: string;
    cameraOn: boolean;
    password: string;
    setPassword: (p: string) => void;
    bootMac: string;
    setBootMac: (m: string) => void;
    ready: boolean;
    notify: (notice: Notice) => void;
    /** The password came from the camera. */
    onScanned: () => void;
    onNext: () => void;
  },
) {
  const [showPassword, setShowPassword] = useState(false);
  const { mac, password, setPassword, bootMac, setBootMac } = props;
  const bootIssue = bootMac ? macProblem(bootMac) : null;
  const onPasswordCode = (value: string) => {
    const p = scannedPassword(value);
    if (!p) {
      const m = scannedMac(value);
      if (m && m !== mac && m !== scannedMac(bootMac)) {
        props.notify({ text: "That is a MAC label; scan the password label.", step: "password" });
      }
      return false;
    }
    setPassword(p);
    confirmScan();
    props.onScanned();
    return true;
  };
  const onBootCode = (value: string) => {
    const m = scannedMac(value);
    if (!m || m === mac) return false;
    setBootMac(m);
    confirmScan();
    return true;
  };
  return (
    <form class="card" aria-labelledby="pw-title" onSubmit={submit(props.ready, props.onNext)}>
      <h1 id="pw-title" tabIndex={-1} data-step-title="password">2 · BMC password</h1>
      <p class="hint">
        MAC <span class="value">{props.mac}</span> {props.vendor && `· ${props.vendor}`}
      </p>
      <Camera
        wasmUrl={props.wasmUrl}
        label="BMC password label"
        autoOpen={props.cameraOn}
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
          <Camera wasmUrl={props.wasmUrl} label="boot NIC MAC" onCode={onBootCode} />
        </details>
      )}
      <div class="actions sticky">
        <button type="button" onClick={() => history.back()}>Back</button>
        <button type="submit" class="primary" disabled={!props.ready}>Next</button>
      </div>
    </form>
  );
}
