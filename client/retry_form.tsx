/**
 * Retry of a failed or blocked registration, with what the failure may ask for: a rescanned BMC
 * password (the BMC rejected the one given) or, when Metal3 is blocked, the boot NIC MAC; either
 * typed or scanned.
 */
import { useState } from "preact/hooks";
import { MAC_MESSAGES, macProblem } from "../lib/mac.ts";
import { api, errorMessage } from "./api.ts";
import { Camera } from "./camera.tsx";
import { scannedMac, scannedPassword } from "./scan_payload.ts";

export function RetryForm(
  props: {
    id: string;
    blocked: boolean;
    wasmUrl?: string;
    /** Called with "" once the retry is accepted, else with what went wrong. */
    onResult: (error: string) => void;
  },
) {
  const [password, setPassword] = useState("");
  const [bootMac, setBootMac] = useState("");
  const [busy, setBusy] = useState(false);
  const bootIssue = bootMac ? macProblem(bootMac) : null;

  const retry = async () => {
    setBusy(true);
    const body = {
      ...(password ? { bmc_password: password } : {}),
      ...(bootMac ? { boot_mac: scannedMac(bootMac) ?? bootMac } : {}),
    };
    try {
      const answer = await api("POST", `/api/v1/servers/${props.id}/retry`, { body });
      if (answer.ok) {
        setPassword("");
        setBootMac("");
      }
      props.onResult(answer.ok ? "" : errorMessage(answer));
    } catch {
      props.onResult("No network: Retry again when online.");
    } finally {
      setBusy(false);
    }
  };

  // Blocked asks for the boot NIC MAC; any other failure may be a password the BMC rejected.
  return (
    <div class="retry" data-testid="retry-form">
      {props.blocked
        ? (
          <>
            <label for="retry-boot-mac">Boot NIC MAC</label>
            <input
              id="retry-boot-mac"
              autoComplete="off"
              value={bootMac}
              aria-invalid={bootIssue ? "true" : "false"}
              onInput={(e) => setBootMac(e.currentTarget.value)}
            />
            {bootIssue && <p class="error">{MAC_MESSAGES[bootIssue]}</p>}
          </>
        )
        : (
          <>
            <label for="retry-password">BMC password (empty: keep the stored one)</label>
            <input
              id="retry-password"
              type="password"
              autoComplete="off"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </>
        )}
      {props.wasmUrl && (
        <Camera
          wasmUrl={props.wasmUrl}
          label={props.blocked ? "boot NIC MAC label" : "BMC password label"}
          onCode={(value) => {
            const found = props.blocked ? scannedMac(value) : scannedPassword(value);
            if (!found) return false;
            (props.blocked ? setBootMac : setPassword)(found);
            return true;
          }}
        />
      )}
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy || Boolean(bootIssue) || password.length > 128}
          onClick={retry}
        >
          Retry
        </button>
      </div>
    </div>
  );
}
